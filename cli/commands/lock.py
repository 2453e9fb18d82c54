"""``musicgen-tui lock``: write ``musicgen.lock``, the root's exact set, from verified state only."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, settings_for
from ..output import Output, shown

HELP = "write musicgen.lock: every local repo's commit, profile and files with their verified hashes"
EXITS = ("The root is verified first (through its service when one runs); a repo with problems is refused, "
         "named, and no lock is written. exit status: 0 written; 1 problems found; 2 could not run.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", metavar="FILE", help="where to write it (default: ROOT/musicgen.lock)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.service.requests import Export, Verify
    from core.workspace.lockfile import LOCK_NAME, locked_repos, write_lock

    from ..chores import CannotRun, chore

    settings = settings_for(args)
    target = Path(args.output) if args.output else settings.root / LOCK_NAME
    in_root = target.resolve() == (settings.root / LOCK_NAME).resolve()
    try:  # the root's own lock file is the root's one writer's to write, right after its verify
        problems = chore(settings, Export(inventories=False, checksums=False, lock=True)).lock_problems if in_root \
            else chore(settings, Verify()).result.problems
    except CannotRun as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if problems:
        for p in problems[:20]:
            out.error(f"{p.repo_id}: {p.path}: {p.status} ({p.detail})")
        out.error(f"{len(problems)} problems: no lock written (fix them with download --run, then lock again)")
        return EXIT_FAILED
    repos = locked_repos(settings.root)
    if not in_root:
        write_lock(target, repos)
    out.show(LockWritten(target, len(repos), sum(len(r.files) for r in repos),
                         sum(s for r in repos for _, s, _ in r.files)))
    return EXIT_OK


class LockWritten:
    def __init__(self, path: Path, repos: int, files: int, size: int) -> None:
        self.path, self.repos, self.files, self.size = path, repos, files, size

    def data(self) -> Any:
        return {"lock": str(self.path), "repos": self.repos, "files": self.files, "bytes": self.size}

    def text(self) -> Iterator[str]:
        from core.sizes import human

        yield f"wrote {shown(self.path)}: {self.repos} repos, {self.files:,} files, {human(self.size)}"
