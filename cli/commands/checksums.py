"""``musicgen-tui checksums``: sha256sum-compatible checksum files for the files over a size."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_OK, EXIT_USAGE, UsageError, settings_for
from ..output import Output, shown

if TYPE_CHECKING:
    from core.local.checksums import ChecksumFile

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
    from core.errors import cannot_write
    from core.local.checksums import write_checksums

    try:
        written = write_checksums(settings.root, min_size)
    except OSError as e:
        if not cannot_write(e):
            raise
        out.error(f"{settings.root} cannot be written ({e.strerror}): no checksum file written")
        return EXIT_USAGE
    out.show(ChecksumsView(written, args.min_size or compact(min_size)))
    return EXIT_OK


class ChecksumsView:
    """The checksum files written."""

    def __init__(self, written: list[ChecksumFile], min_size: str) -> None:
        self.written = written
        self.min_size = min_size

    def data(self) -> Any:
        return [{"path": str(w.path), "entries": w.entries, "bytes": w.bytes} for w in self.written]

    def text(self) -> Iterator[str]:
        from core.sizes import human

        yield from (f"wrote {shown(w.path)}: {w.entries} files, {human(w.bytes)}" for w in self.written)
        if not self.written:
            yield f"no files over {self.min_size}: no checksum file written"
