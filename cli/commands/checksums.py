"""``musicgen-tui checksums``: sha256sum-compatible checksum files for the files over a size."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_OK, UsageError, settings_for
from ..output import Output, shown

if TYPE_CHECKING:
    from core.local.checksums import ChecksumFile

HELP = "write sha256sum-compatible checksum files"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-size", default="100M", metavar="SIZE", help="only files over SIZE (default 100M)")
    p.add_argument("--json", action="store_true", help="print the files written as JSON on stdout")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.sizes import parse_size

    try:
        min_size = parse_size(args.min_size)
    except ValueError as e:
        raise UsageError(f"--min-size: {e}") from None
    settings = settings_for(args)
    from core.local.checksums import write_checksums

    out.show(ChecksumsView(write_checksums(settings.root, min_size), args.min_size))
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
