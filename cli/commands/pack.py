"""``musicgen-tui pack`` and ``musicgen-tui unpack``: a lock's files carried to a machine with no network."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, UsageError, settings_for
from ..output import Output, shown


def _printer(out: Output, verb: str, every: float = 2.0) -> Callable[[int, int], None]:
    """Progress on stderr at most every ``every`` seconds (none with ``--json``)."""
    from core.sizes import human

    last = [0.0]

    def say(done: int, total: int) -> None:
        now = time.monotonic()
        if out.as_json or (now - last[0] < every and done < total):
            return
        last[0] = now
        print(f"{verb} {human(done)} of {human(total)}", file=sys.stderr)

    return say


class PackCommand:
    HELP = "carry a lock's files to a machine with no network: a folder (hard links where it can) or NAME.tar parts"
    EXITS = ("Every file is checked against the lock's hash as it is read; a run cut off goes on where it stopped. "
             "exit status: 0 packed; 1 a file of the root is not the lock's (named); 2 could not run.")

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--lock", metavar="FILE", help="the lock to pack (default: ROOT/musicgen.lock)")
        p.add_argument("--output", metavar="DIR_OR_TAR", required=True,
                       help="a folder (files hard-linked where it shares the root's filesystem, else copied), or "
                            "NAME.tar: parts NAME.tar.000, .001, … with NAME.tar.parts and NAME.tar.sha256")
        p.add_argument("--part-size", metavar="SIZE", default="2G",
                       help="with NAME.tar: bytes a part, like 4000M for FAT32 media (default 2G)")
        p.add_argument("--json", action="store_true", help="print what was packed as JSON")

    @staticmethod
    def run(args: argparse.Namespace, out: Output) -> int:
        from core.sizes import parse_size
        from core.workspace.lockfile import LOCK_NAME, LockError
        from core.workspace.packing import pack
        from core.workspace.packs import NoRoom, PackError

        settings = settings_for(args)
        try:
            part_size = parse_size(args.part_size)
        except ValueError as e:
            raise UsageError(f"--part-size: {e}") from None
        lock = Path(args.lock) if args.lock else settings.root / LOCK_NAME
        if not lock.is_file():
            out.error(f"no lock at {lock}: write one with `musicgen-tui lock`, or name it with --lock")
            return EXIT_CANNOT_RUN
        target = Path(args.output)
        if target.resolve().is_relative_to(settings.root.resolve() / "models") or \
                target.resolve().is_relative_to(settings.root.resolve() / "datasets"):
            raise UsageError("--output: not inside the root's models/ or datasets/")
        try:
            done = pack(settings.root, lock, target, part_size=part_size, on_progress=_printer(out, "packed"))
        except (LockError, NoRoom) as e:
            out.error(str(e))
            return EXIT_CANNOT_RUN
        except PackError as e:
            out.error(str(e))
            return EXIT_FAILED
        out.show(_View({"pack": str(done.target), "kind": done.kind, "files": done.files, "bytes": done.size,
                        "parts": done.parts, "hard_links": done.linked, "resumed": done.resumed}, _pack_text))
        return EXIT_OK


def _pack_text(d: dict[str, Any]) -> Iterator[str]:
    from core.sizes import human

    how = (f"{d['parts']} part{'s' if d['parts'] != 1 else ''}" if d["kind"] == "tar"
           else f"{d['hard_links']:,} hard links, {d['files'] - d['hard_links'] - d['resumed']:,} copies")
    yield (f"packed {d['files']:,} files, {human(d['bytes'])}, into {shown(Path(d['pack']))} ({how}"
           + (f"; {d['resumed']:,} kept from an earlier run" if d["resumed"] else "") + ")")
    yield "carry it, then: musicgen-tui unpack " + shown(Path(d["pack"])) + " --root DIR"


class UnpackCommand:
    HELP = "unpack a pack into a root with no network: every part and file checked before anything lands"
    EXITS = ("exit status: 0 unpacked (verify --lock passes); 1 the pack is missing a part, cut, damaged or tampered "
             "(named; nothing was unpacked); 2 could not run (the root held by another writer, not enough free "
             "space).")

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("pack", metavar="PACK", help="a pack folder, or NAME.tar (or any of its parts)")
        p.add_argument("--json", action="store_true", help="print what was unpacked as JSON")

    @staticmethod
    def run(args: argparse.Namespace, out: Output) -> int:
        from core.local.lock import LockHeld
        from core.service.client import held_by
        from core.workspace.packs import NoRoom, PackError
        from core.workspace.unpacking import unpack

        settings = settings_for(args)
        try:
            done = unpack(Path(args.pack), settings.root, min_free=settings.min_free,
                          on_progress=_printer(out, "checked"))
        except LockHeld as e:
            out.error(held_by(settings.root, e))
            return EXIT_CANNOT_RUN
        except NoRoom as e:
            out.error(str(e))
            return EXIT_CANNOT_RUN
        except PackError as e:
            out.error(str(e))
            return EXIT_FAILED
        out.show(_View({"root": str(done.root), "repos": done.repos, "files": done.files, "bytes": done.size,
                        "present": done.present, "hard_links": done.linked, "resumed": done.resumed,
                        "notes": done.notes}, _unpack_text))
        return EXIT_OK


def _unpack_text(d: dict[str, Any]) -> Iterator[str]:
    from core.sizes import human

    yield (f"unpacked {d['repos']} repos, {d['files']:,} files, {human(d['bytes'])}, into {shown(Path(d['root']))}"
           f" ({d['present']:,} already here, {d['hard_links']:,} hard links"
           + (f", {d['resumed']:,} checked by an unpack cut off before" if d["resumed"] else "") + ")")
    yield from d["notes"]
    yield "check it offline: musicgen-tui verify --lock " + shown(Path(d["root"]) / "musicgen.lock")


class _View:
    def __init__(self, data: dict[str, Any], text: Callable[[dict[str, Any]], Iterator[str]]) -> None:
        self._data, self._text = data, text

    def data(self) -> dict[str, Any]:
        return self._data

    def text(self) -> Iterator[str]:
        return self._text(self._data)
