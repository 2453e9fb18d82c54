"""Extracted trees checked against their manifests, offline: every file an archive held is there with its sha256.

A manifest is a sha256sum file (``core.archive`` writes one per extracted archive, in the repo's
``.cache/musicgen-tui/extracted/``), its paths relative to the repo's folder. The stat keys of the files that
matched are kept beside it (``<manifest>.keys``, in the manifest's order), so a second verify of an unchanged tree
hashes nothing; ``full`` hashes every file again."""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..states import CheckStatus
from .checksums import parse_line
from .damaged import DAMAGED, unreadable
from .hashing import hash_file
from .safeio import replace_bytes

EXTRACTED = ".cache/musicgen-tui/extracted"  # below a repo's folder
KEY = 4  # size, mtime_ns, ctime_ns, inode


@dataclass(frozen=True)
class TreeCheck:
    status: CheckStatus
    path: str  # relative to the repo's folder, as the manifest lists it
    detail: str = ""


def manifests(local_dir: Path) -> list[Path]:
    folder = local_dir / EXTRACTED
    return sorted(folder.glob("*.sha256")) if folder.is_dir() else []


def manifest_entries(manifest: Path) -> Iterator[tuple[str, str]]:
    """``(sha256, path)`` for each line, read a line at a time (a manifest of 300,000 files is never a list)."""
    with open(manifest, encoding="utf-8", newline="\n") as lines:
        for line in lines:
            entry = parse_line(line)
            if entry is not None:
                yield entry


def _keys(manifest: Path) -> array:
    try:
        data = marshal.loads(manifest.with_suffix(".keys").read_bytes())
        if not isinstance(data, tuple) or len(data) != 2 or data[0] != os.stat(manifest).st_mtime_ns:
            return array("q")
        keys = array("q")
        keys.frombytes(data[1])
        return keys
    except FileNotFoundError:
        return array("q")
    except DAMAGED as e:
        unreadable(manifest.with_suffix(".keys"), e)
        return array("q")


def check_tree(manifest: Path, base: Path, *, full: bool = False,
               cancel: threading.Event | None = None) -> Iterator[TreeCheck]:
    """Each file the manifest lists, below ``base``: OK, MISSING or MISMATCH. A file whose stat key is the one it
    had when it last matched is OK without hashing (unless ``full``); a link where a file was extracted is a
    mismatch, never followed."""
    known = array("q") if full else _keys(manifest)
    seen = array("q")
    for i, (digest, path) in enumerate(manifest_entries(manifest)):
        if cancel is not None and cancel.is_set():
            return
        where = base / path
        try:
            st = os.lstat(where)
        except FileNotFoundError:
            seen.extend((-1, 0, 0, 0))
            yield TreeCheck(CheckStatus.MISSING, path, "in the archive's manifest, not on disk")
            continue
        key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        if not stat.S_ISREG(st.st_mode):
            seen.extend((-1, 0, 0, 0))
            yield TreeCheck(CheckStatus.MISMATCH, path, "not a regular file")
            continue
        if known[KEY * i:KEY * (i + 1)].tolist() == list(key):
            seen.extend(key)
            yield TreeCheck(CheckStatus.OK, path)
            continue
        got = hash_file(where, "sha256", st.st_size)
        if got != digest:
            seen.extend((-1, 0, 0, 0))
            yield TreeCheck(CheckStatus.MISMATCH, path, f"sha256 {got[:12]}…, the archive had {digest[:12]}…")
        else:
            seen.extend(key)
            yield TreeCheck(CheckStatus.OK, path)
    with contextlib.suppress(OSError):  # a read-only root: checked all the same, nothing remembered
        replace_bytes(manifest.with_suffix(".keys"), marshal.dumps((os.stat(manifest).st_mtime_ns, seen.tobytes())))
