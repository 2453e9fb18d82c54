"""``musicgen-tui outdated``: which local repos are behind the endpoint's ``main``, and what an update would fetch."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, add_repo_ids, catalog_for, refs_from, settings_for
from ..output import Output

if TYPE_CHECKING:
    from core.hub.outdated import RepoStanding

HELP = "compare each local repo with the endpoint: current, behind (what an update fetches), gone or unknown"
EXITS = ("One small API call per current repo (its commit), a listing more for one that is behind; at most 8 at "
         "once. exit status: 0 every repo asked is current; 1 some are behind or gone; 2 could not run (bad "
         "arguments or settings, or the endpoint could not be asked about any repo).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_repo_ids(p, " (default: every local repo)")
    p.add_argument("--json", action="store_true", help='print {"repos": [...]} on stdout')


def run(args: argparse.Namespace, out: Output) -> int:
    from core.hub.outdated import outdated

    settings = settings_for(args)
    refs = refs_from(args, catalog_for(settings)) or None
    rows = outdated(settings, refs)
    out.show(OutdatedView(rows))
    if any(r.status in ("behind", "gone") for r in rows):
        return EXIT_FAILED
    asked = [r for r in rows if r.asked]
    if asked and all(r.status == "unknown" for r in asked):
        return EXIT_CANNOT_RUN
    return EXIT_OK


class OutdatedView:
    def __init__(self, rows: list[RepoStanding]) -> None:
        self.rows = rows

    def data(self) -> Any:
        return {"repos": [r.data() for r in self.rows]}

    def text(self) -> Iterator[str]:
        from core.sizes import human

        if not self.rows:
            yield "nothing downloaded here"
            return
        width = max(len(r.repo_id) for r in self.rows)
        for r in self.rows:
            line = f"{r.repo_id:<{width}}  {r.repo_type:<7}  {r.status:<7}"
            if r.status == "behind":
                line += (f"  {(r.local_revision or '?')[:8]} -> {(r.remote_revision or '?')[:8]}: {r.changed} changed, "
                         f"{r.added} added, {r.removed} removed; an update fetches {human(r.bytes_to_fetch)}")
            elif r.status == "current":
                line += f"  {(r.local_revision or '?')[:8]}"
            if r.reason:
                line += f"  ({r.reason})"
            yield line
        counts = {s: sum(1 for r in self.rows if r.status == s) for s in ("current", "behind", "gone", "unknown")}
        yield " · ".join(f"{n} {s}" for s, n in counts.items() if n)
