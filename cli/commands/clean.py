"""``musicgen-tui rm`` and ``musicgen-tui prune``: what goes and the bytes it frees, said before anything goes;
asked in a terminal unless ``--yes``; done by the root's one writer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_CANNOT_RUN, EXIT_OK, add_repo_ids, catalog_for, refs_from, settings_for
from ..output import Output

if TYPE_CHECKING:
    from core.service.events import Cleaned
    from core.service.requests import Prune, Remove


def _add_common(p: argparse.ArgumentParser) -> None:
    how = p.add_mutually_exclusive_group()
    how.add_argument("--dry-run", action="store_true", help="say what would go and what it frees; remove nothing")
    how.add_argument("--yes", action="store_true", help="remove without asking")
    p.add_argument("--json", action="store_true", help="print what went (or would) as JSON")


def _confirm(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _run(args: argparse.Namespace, out: Output, make: Any) -> int:
    """Say what would go (a dry run by the one writer), then ask, then do it."""
    from core.sizes import human

    from ..chores import CannotRun, chore

    settings = settings_for(args)
    try:
        request = make(settings, True)
        if request is None:
            return EXIT_CANNOT_RUN
        preview = chore(settings, request)
        if args.dry_run or not _goes(preview):
            out.show(CleanView(preview))
            return EXIT_OK
        if not args.yes:
            if not sys.stdin.isatty():
                out.error("not a terminal to ask in: pass --yes to remove, or --dry-run to see what would go")
                return EXIT_CANNOT_RUN
            for line in CleanView(preview).text():
                print(line)
            if not _confirm(f"remove it, freeing {human(preview.bytes_freed)}?"):
                print("nothing removed")
                return EXIT_OK
        done = chore(settings, make(settings, False))
    except CannotRun as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    out.show(CleanView(done))
    return EXIT_OK


def _goes(c: Cleaned) -> bool:
    return any(not i.get("reason") for i in c.items) if c.kind == "remove" else bool(c.items)


class RmCommand:
    HELP = "remove repos: their folders, views, checksum lines and inventory rows (says the bytes it frees first)"
    EXITS = ("A repo the root's service is downloading is refused (cancel it first); a repo another local repo "
             "needs is named, and removed since you named it. exit status: 0 done (or, with --dry-run, said); 2 "
             "could not run (bad arguments, not a terminal without --yes, a repo being downloaded).")

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        add_repo_ids(p, " to remove")
        _add_common(p)

    @staticmethod
    def run(args: argparse.Namespace, out: Output) -> int:
        from core.service.requests import Remove

        def make(settings: Any, dry_run: bool) -> Remove | None:
            refs = refs_from(args, catalog_for(settings))
            if not refs:
                out.error("name the repos to remove: --model ID or --dataset ID")
                return None
            return Remove(tuple(refs), dry_run)

        return _run(args, out, make)


class PruneCommand:
    HELP = "remove what no running download uses: partial files, stale records, temp files, views of gone repos"
    EXITS = "exit status: 0 done (or, with --dry-run, said); 2 could not run (not a terminal without --yes)."

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        _add_common(p)

    @staticmethod
    def run(args: argparse.Namespace, out: Output) -> int:
        from core.service.requests import Prune

        def make(settings: Any, dry_run: bool) -> Prune:
            return Prune(dry_run)

        return _run(args, out, make)


class CleanView:
    def __init__(self, cleaned: Cleaned) -> None:
        self.c = cleaned

    def data(self) -> Any:
        return {"kind": self.c.kind, "dry_run": self.c.dry_run, "bytes_freed": self.c.bytes_freed,
                "items": self.c.items}

    def text(self) -> Iterator[str]:
        from core.sizes import human

        c, would = self.c, "would free" if self.c.dry_run else "freed"
        for i in c.items:
            if c.kind == "remove":
                line = f"{i['repo_id']}: " + (i["reason"] if i["reason"] else
                                              f"{i['files']:,} files, {would} {human(i['bytes_freed'])}")
                if i["needed_by"]:
                    line += f" (still needed by {', '.join(i['needed_by'])})"
            else:
                line = f"{i['path']}: {i['why']}" + (f", {human(i['bytes'])}" if i["bytes"] else "")
            yield line
        if c.kind == "prune" and not c.items:
            yield "nothing to prune"
        yield f"{'dry run: ' if c.dry_run else ''}{would} {human(c.bytes_freed)}"
