"""``musicgen-tui verify``: every downloaded file against the Hub's hashes; the report in inventory/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, add_repo_ids, catalog_for, refs_from, settings_for
from ..output import Output, shown

if TYPE_CHECKING:
    from core.local.verify import VerifyResult
    from core.workspace.lockfile import LockProblem

HELP = "check downloaded files against the Hub's hashes"
EXTRAS_SHOWN = 20
EXITS = ("exit status: 0 every file checked is OK; 1 problems found (a file damaged, missing or partial; with "
         "--strict, a file no record lists); "
         "2 could not run (bad arguments or settings, an unreadable root, the root held by a foreground download). "
         "A read-only root is verified as it is; while the root's service runs, it verifies (one writer per root).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_repo_ids(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--full", action="store_true", help="hash every file again, ignoring remembered hashes")
    p.add_argument("--strict", action="store_true",
                   help="extra files (on disk, not in the recorded listing) are problems too (exit 1)")
    p.add_argument("--lock", metavar="FILE", help="also check the root against a lock file (musicgen-tui lock): "
                                                  "missing, extra, mismatched files and wrong revisions; no network")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.service.events import ExportDone
    from core.service.requests import Verify
    from core.workspace.lockfile import LockError, compare, read_lock

    from ..chores import CannotRun, chore

    settings = settings_for(args)
    refs = refs_from(args, None) or None
    if refs is not None and not all(r.local_dir(settings.root).is_dir() for r in refs):
        refs = refs_from(args, catalog_for(settings))  # an alias or another spelling: the catalog's name
    try:
        locked = read_lock(Path(args.lock)) if args.lock else None
    except LockError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if locked is not None and refs is None:
        refs = [r.ref for r in locked if r.ref.local_dir(settings.root).is_dir()] or None
    try:
        done = chore(settings, Verify(tuple(refs or ()), args.full))
    except CannotRun as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    assert not isinstance(done, ExportDone)
    if done.report is None:
        print(f"musicgen-tui: {settings.root} cannot be written: verified read-only, no hash remembered and no "
              "report written", file=sys.stderr)
    out.show(VerifyView(done.result, None if done.report is None else Path(done.report)))
    against = compare(settings.root, locked) if locked is not None else []
    if locked is not None:
        out.show(LockView(against, args.lock))
    ok = done.result.ok and not (args.strict and done.result.extras) and not against
    return EXIT_OK if ok else EXIT_FAILED


class LockView:
    """Where the root differs from the lock."""

    def __init__(self, problems: list[LockProblem], lock: str) -> None:
        self.problems, self.lock = problems, lock

    def data(self) -> Any:
        return {"lock": {"file": self.lock, "ok": not self.problems,
                         "problems": [vars(p) for p in self.problems]}}

    def text(self) -> Iterator[str]:
        for p in self.problems:
            yield f"{p.status.upper():<8} {p.repo_id}: {p.path or '(the repo)'} ({p.detail})"
        yield f"lock {self.lock}: " + ("the root matches it" if not self.problems else
                                       f"{len(self.problems)} differences")


class VerifyView:
    """The problems and the counts, or the report as written."""

    def __init__(self, result: VerifyResult, report: Path | None) -> None:
        self.result = result
        self.report = report

    def data(self) -> Any:
        return self.result.report()

    def text(self) -> Iterator[str]:
        for p in self.result.problems:
            yield f"{p.status:<8} {p.repo_id}: {p.path}" + (f" ({p.detail})" if p.detail else "")
        shown_extras = self.result.extras[:EXTRAS_SHOWN]
        for x in shown_extras:
            yield f"{'EXTRA':<8} {x.repo_id}: {x.path} (not in the recorded listing)"
        if len(self.result.extras) > len(shown_extras):
            yield f"… and {len(self.result.extras) - len(shown_extras)} more extra files (--json lists them all)"
        c = self.result.counts
        yield (f"{c['ok']} OK, {c['mismatch']} mismatch, {c['missing']} missing, {c['partial']} partial "
               f"({c['checked']} files checked"
               + (f", and {c['checksum_lines']} lines of the checksum files" if c["checksum_lines"] else "") + ")"
               + (f"; {c['extra']} extra (not problems unless --strict)" if c["extra"] else "")
               + (f"; report: {shown(self.report)}" if self.report else ""))
        if not self.result.ok:
            yield "run `musicgen-tui download --run` with the same repos to fetch the damaged files again"
