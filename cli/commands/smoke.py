"""``musicgen-tui smoke``: prove the local models start, offline, with their loaders."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, catalog_for, settings_for
from ..output import Output, printable, shown

if TYPE_CHECKING:
    from core.runtime.smoke import SmokeCheck, SmokeResult

HELP = "prove the local models load offline: files, structure, views, then the real loaders when installed"
EXITS = ("Without torch and transformers, only the structural checks run (said in the output). exit status: 0 "
         "every model checked is ready; 1 problems found (each names its file and the command that mends it); "
         "2 could not run (bad arguments or settings, no model downloaded, the root held by a foreground download).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=[], metavar="ID", help="a local model (default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    p.add_argument("--no-load", action="store_true", help="structural checks only, even with torch installed")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.local.inventory import repo_folders
    from core.local.jsonio import write_json_atomic
    from core.local.record import read_planned_sizes
    from core.repos import RepoRef
    from core.runtime.smoke import smoke
    from core.service.events import ExportDone
    from core.service.requests import Verify
    from core.sources import SourceError, load_sources

    from ..chores import CannotRun, chore

    settings = settings_for(args)
    catalog = catalog_for(settings)
    try:
        sources = load_sources(Path(settings.catalog_file) if settings.catalog_file else None)
        refs = [catalog.canonical(RepoRef("model", i)) for i in args.model]
    except (SourceError, ValueError) as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if not refs:
        refs = [p.ref for t, d in repo_folders(settings.root) if t == "model"
                and (p := read_planned_sizes(d)) is not None]
    if not refs:
        out.error(f"no model downloaded in {settings.root}: nothing to smoke-check")
        return EXIT_CANNOT_RUN

    def verifier(wanted: list[RepoRef]) -> list[Any]:
        done = chore(settings, Verify(tuple(wanted)))
        assert not isinstance(done, ExportDone)
        return done.result.problems

    def heard(check: SmokeCheck) -> None:
        if not args.json:
            print(printable(line(check)), flush=True)

    try:
        result = smoke(settings.root, refs, catalog, sources, verifier, load=not args.no_load, on_check=heard)
    except CannotRun as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if args.report:
        write_json_atomic(Path(args.report), result.report())
    if result.runtime:
        print(printable(f"musicgen-tui: {result.runtime}"), file=sys.stderr)
    out.show(SmokeView(result, args.report))
    return EXIT_OK if result.ok else EXIT_FAILED


def line(c: SmokeCheck) -> str:
    mark = {True: "ok  ", False: "FAIL", None: "skip"}[c.ok]
    where = f" {c.path}:" if c.path else ""
    took = f" ({c.seconds:.1f} s, peak {c.peak_bytes / 1e6:,.0f} MB)" if c.seconds is not None and c.peak_bytes else ""
    mend = f" -> {c.mend}" if c.mend and c.ok is False else ""
    return f"{mark} {c.repo_id} {c.check}:{where} {c.detail}{took}{mend}"


class SmokeView:
    def __init__(self, result: SmokeResult, report: str | None) -> None:
        self.result, self.report = result, report

    def data(self) -> Any:
        return self.result.report()

    def text(self) -> Iterator[str]:
        r = self.result
        for repo, loaders in r.ready.items():
            ready = [k for k, v in loaders.items() if not v]
            yield f"{repo}: ready offline for {', '.join(ready) if ready else 'no loader'}"
        yield (f"smoke: {len(r.problems)} problems" if r.problems else "smoke: every model checked is ready") + \
            (f"; report {shown(self.report)}" if self.report else "")
