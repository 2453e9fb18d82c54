"""``musicgen-tui checksums``: sha256sum-compatible checksum files for the files over a size."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..common import EXIT_OK, EXIT_USAGE, UsageError, settings_for
from ..output import Output, shown

HELP = "write sha256sum-compatible checksum files"
EXITS = "exit status: 0 written; 2 could not run (bad arguments or settings, a root that cannot be written)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-size", metavar="SIZE", help="only files over SIZE (default MUSICGEN_CHECKSUM_MIN, 100M)")
    p.add_argument("--json", action="store_true", help="print the files written as JSON on stdout")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.sizes import compact, parse_size

    settings = settings_for(args)
    try:
        min_size = settings.checksum_min if args.min_size is None else parse_size(args.min_size)
    except ValueError as e:
        raise UsageError(f"--min-size: {e}") from None
    from core.service.events import Verified
    from core.service.requests import Export

    from ..chores import CannotRun, chore

    try:
        done = chore(settings, Export(inventories=False, checksums=True, checksum_min=min_size))
    except CannotRun as e:
        out.error(str(e))
        return EXIT_USAGE
    assert not isinstance(done, Verified)
    if done.unwritable:
        out.error(f"{settings.root} cannot be written ({done.unwritable}): no checksum file written")
        return EXIT_USAGE
    out.show(ChecksumsView(done.checksums, args.min_size or compact(min_size)))
    return EXIT_OK


class ChecksumsView:
    """The checksum files written."""

    def __init__(self, written: list[dict[str, Any]], min_size: str) -> None:
        self.written = written
        self.min_size = min_size

    def data(self) -> Any:
        return self.written

    def text(self) -> Iterator[str]:
        from core.sizes import human

        yield from (f"wrote {shown(Path(w['path']))}: {w['entries']} files, {human(w['bytes'])}" for w in self.written)
        if not self.written:
            yield f"no files over {self.min_size}: no checksum file written"
