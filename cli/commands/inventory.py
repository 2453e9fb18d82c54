"""``musicgen-tui inventory``: write the three JSON inventories and print a table of the local repos."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_OK, settings_for
from ..output import Output, shown, table

if TYPE_CHECKING:
    from pathlib import Path

    from core.local.inventory import LocalRepo

HELP = "write the three JSON inventories"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the combined inventory on stdout")


def run(args: argparse.Namespace, out: Output) -> int:
    settings = settings_for(args)
    from core.local import inventory

    repos = inventory.scan(settings.root)
    out.show(InventoryView(repos, inventory.write(settings.root, repos)))
    return EXIT_OK


class InventoryView:
    """The local repos as a table, or the combined inventory as written."""

    def __init__(self, repos: list[LocalRepo], paths: dict[str, Path]) -> None:
        self.repos = repos
        self.paths = paths

    def data(self) -> Any:
        return json.loads(self.paths["combined"].read_text(encoding="utf-8"))

    def text(self) -> Iterator[str]:
        from core.sizes import human

        rows = [["REPO", "TYPE", "FILES", "SIZE", "SNAPSHOT", "COMPLETE"]]
        for r in self.repos:
            rows.append([r.repo_id, r.repo_type, str(r.file_count), human(r.size_bytes),
                         (r.snapshot_id or "-")[:12], "yes" if r.complete else "no"])
        yield table(rows, {2, 3}) if self.repos else "no repos under models/ or datasets/ yet"
        yield from (f"wrote {shown(p)}" for p in self.paths.values())
