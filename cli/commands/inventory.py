"""``musicgen-tui inventory``: write the three JSON inventories and print a table of the local repos."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..common import EXIT_CANNOT_RUN, EXIT_OK, settings_for
from ..output import Output, shown, table

HELP = "write the three JSON inventories"
EXITS = ("exit status: 0 the inventories were made (on a read-only root: shown, not written, and said); "
         "2 could not run (bad arguments or settings, an unreadable root, the root held by a foreground download)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the combined inventory on stdout")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.service.events import Verified
    from core.service.requests import Export

    from ..chores import CannotRun, chore

    settings = settings_for(args)
    try:
        done = chore(settings, Export(inventories=True, checksums=False))
    except CannotRun as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    assert not isinstance(done, Verified)
    if done.unwritable:
        print(f"musicgen-tui: {settings.root} cannot be written ({done.unwritable}): the inventories are shown, "
              "not written", file=sys.stderr)
    out.show(InventoryView(done.repos, [Path(p) for p in done.inventories.values()], done.combined))
    return EXIT_OK


class InventoryView:
    """The local repos as a table, or the combined inventory as written."""

    def __init__(self, repos: list[dict[str, Any]], paths: list[Path], combined: dict[str, Any]) -> None:
        self.repos = repos
        self.paths = paths
        self.combined = combined

    def data(self) -> Any:
        return self.combined

    def text(self) -> Iterator[str]:
        from core.sizes import human

        rows = [["REPO", "TYPE", "FILES", "SIZE", "SNAPSHOT", "COMPLETE"]]
        for r in self.repos:
            rows.append([r["repo_id"], r["repo_type"], str(r["file_count"]), human(r["size_bytes"]),
                         (r["snapshot_id"] or "-")[:12], "yes" if r["complete"] else "no"])
        yield from table(rows, {2, 3}) if self.repos else ["no repos under models/ or datasets/ yet"]
        yield from (f"wrote {shown(p)}" for p in self.paths)
