"""``pack``: a lock's files out of a root into a pack (``packs``), every file checked against the lock's hash as
it is read. Streamed (one pass, flat memory) and resumable: a folder pack keeps the files a journal says are
whole, a tar pack the parts it says are whole, and the next run goes on from there."""

from __future__ import annotations

import itertools
import os
import tarfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..local.jsonio import write_text_atomic
from ..local.safeio import PlantedLink, make_dirs, open_append, open_fd
from .lockfile import LOCK_NAME, LockedRepo, parse_lock
from .packs import (
    FILES,
    SUMS,
    Check,
    Member,
    PackError,
    check_room,
    copy_checked,
    fd_reader,
    lock_digest,
    members,
    pack_kind,
    part_name,
    parts_file,
    read_sums,
    regular_fd,
    sums_file,
    sums_line,
    tar_base,
    write_all,
)

DEFAULT_PART = 2 << 30
OnProgress = Callable[[int, int], object]  # (bytes done, bytes in all)
BLOCK = tarfile.BLOCKSIZE


@dataclass(frozen=True)
class Packed:
    target: Path
    kind: str  # folder | tar
    files: int
    size: int
    parts: int = 0
    linked: int = 0  # folder: hard links, no copy
    resumed: int = 0  # files (folder) or parts (tar) a journal said were whole


def pack(root: Path, lock_path: Path, target: Path, *, part_size: int = DEFAULT_PART,
         on_progress: OnProgress | None = None, cancel: threading.Event | None = None) -> Packed:
    """Pack ``lock_path``'s files out of ``root`` into ``target`` (a folder, or ``NAME.tar`` in parts)."""
    raw = lock_path.read_bytes()
    locked = parse_lock(raw, str(lock_path))
    total = sum(s for r in locked for _, s, _ in r.files)
    progress = _Progress(total, on_progress, cancel)
    if pack_kind(target) == "tar":
        base = tar_base(target)
        assert base is not None
        return _pack_tar(root, raw, locked, base, part_size, progress)
    return _pack_folder(root, raw, locked, target, progress)


class _Progress:
    def __init__(self, total: int, on_progress: OnProgress | None, cancel: threading.Event | None) -> None:
        self.total, self.done, self.on_progress, self.cancel = total, 0, on_progress, cancel

    def add(self, n: int) -> None:
        self.done += n
        if self.cancel is not None and self.cancel.is_set():
            raise PackError("cancelled: run the same pack again to go on")
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)


def _pack_folder(root: Path, raw: bytes, locked: Sequence[LockedRepo], target: Path, progress: _Progress) -> Packed:
    target.mkdir(parents=True, exist_ok=True)
    lock_copy = target / LOCK_NAME
    if lock_copy.exists() and lock_copy.read_bytes() != raw:
        raise PackError(f"{target}: holds the pack of another lock; choose another --output")
    write_text_atomic(lock_copy, [raw.decode("utf-8")])
    journal = target / (SUMS + ".partial")
    done = {**read_sums(target / SUMS), **read_sums(journal)}  # "files/<name>" -> sha256, of earlier runs
    same_fs = os.stat(root).st_dev == os.stat(target).st_dev
    if not same_fs:
        check_room(target, progress.total - sum(s for r in locked for p, s, _ in r.files
                                                if f"{FILES}/{r.ref.relpath()}/{p}" in done))
    made: set[Path] = set()
    files = linked = resumed = 0
    with open_append(journal) as j:
        for m in members(locked):
            dest, key = target / FILES / m.name, f"{FILES}/{m.name}"
            files += 1
            if key in done and _size(dest) == m.size:
                resumed += 1
                progress.add(m.size)
                continue
            if dest.parent not in made:
                make_dirs(dest.parent, target)
                made.add(dest.parent)
            sha, hard = _put(root / m.name, dest, m, same_fs)
            linked += hard
            done[key] = sha
            j.write(sums_line(sha, key).encode())
            j.flush()
            progress.add(m.size)
    lines = [sums_line(lock_digest(raw), LOCK_NAME)]
    lines += [sums_line(done[f"{FILES}/{m.name}"], f"{FILES}/{m.name}") for m in members(locked)]
    write_text_atomic(target / SUMS, lines)
    journal.unlink(missing_ok=True)
    return Packed(target, "folder", files, progress.total, linked=linked, resumed=resumed)


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return -1


def _put(src: Path, dest: Path, m: Member, same_fs: bool) -> tuple[str, bool]:
    """One file into a folder pack: a hard link where it can be (then read to check it), else a checked copy."""
    tmp = dest.with_name(dest.name + ".packing")
    tmp.unlink(missing_ok=True)
    hard = False
    if same_fs:
        try:
            os.link(src, tmp, follow_symlinks=False)
            hard = True
        except OSError:
            hard = False
    try:
        check = Check(m)
        if hard:
            fd = regular_fd(tmp)
            try:
                copy_checked(fd_reader(fd), None, check, m.size)
            finally:
                os.close(fd)
        else:
            _copy(src, tmp, check, m.size)
        sha = check.finish(str(src)[: -len(m.name) - 1])
    except (PackError, PlantedLink, OSError) as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, PackError):
            raise
        raise PackError(f"{src}: {getattr(e, 'strerror', None) or e}") from None
    os.replace(tmp, dest)
    return sha, hard


def _copy(src: Path, dest: Path, check: Check, size: int) -> None:
    fd = regular_fd(src)
    try:
        out = open_fd(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            copy_checked(fd_reader(fd), lambda b: write_all(out, b), check, size)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def header(name: str, size: int) -> bytes:
    """A member's tar header, the same every time (no time, owner or mode of this machine): a resumed pack
    continues the very stream an earlier run began."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class _Parts:
    """The stream written into parts of ``part_size`` bytes; a whole part is synced, then named in the journal."""

    def __init__(self, base: Path, part_size: int, first: int, journal: _Journal) -> None:
        self.base, self.part_size, self.index, self.journal = base, part_size, first, journal
        self.fd: int | None = None
        self.left = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            if self.fd is None:
                self.fd = open_fd(part_name(self.base, self.index), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                self.left = self.part_size
            n = min(len(view), self.left)
            write_all(self.fd, view[:n])
            self.left -= n
            view = view[n:]
            if not self.left:
                self.close()

    def close(self) -> None:
        if self.fd is None:
            return
        os.fsync(self.fd)
        size = os.fstat(self.fd).st_size
        os.close(self.fd)
        self.fd = None
        self.journal.line(f"part {size} {part_name(self.base, self.index).name}")
        self.index += 1


class _Journal:
    """What earlier runs of this pack finished: whole parts, and the sha256 of each member they read."""

    def __init__(self, path: Path, head: str) -> None:
        self.path, self.head = path, head
        self.parts: list[tuple[int, str]] = []
        self.sums: dict[str, str] = {}
        self.complete = False
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        if lines[:1] != [head]:
            return  # another lock or part size, or none: started afresh
        for line in lines[1:]:
            kind, _, rest = line.partition(" ")
            first, _, name = rest.partition(" ")
            if kind == "part" and first.isdigit():
                self.parts.append((int(first), name))
            elif kind == "file":
                self.sums[name] = first
            elif kind == "complete":
                self.complete = True

    def restart(self, whole: list[tuple[int, str]]) -> None:
        """Keep only the parts still whole, then append as the run goes."""
        self.parts = whole
        write_text_atomic(self.path, [self.head + "\n", *(f"part {s} {n}\n" for s, n in whole),
                                      *(f"file {d} {n}\n" for n, d in self.sums.items())])
        self.f = open_append(self.path)

    def line(self, text: str) -> None:
        self.f.write((text + "\n").encode())
        self.f.flush()


def _pack_tar(root: Path, raw: bytes, locked: Sequence[LockedRepo], base: Path, part_size: int,
              progress: _Progress) -> Packed:
    if part_size < BLOCK:
        raise PackError(f"a part of {part_size} bytes is too small: at least {BLOCK}")
    base.parent.mkdir(parents=True, exist_ok=True)
    journal = _Journal(base.with_name(base.name + ".journal"),
                       f"musicgen-tui pack: lock {lock_digest(raw)} part-size {part_size}")
    files = sum(len(r.files) for r in locked)
    if journal.complete and all(_size(base.with_name(n)) == s for s, n in journal.parts):
        progress.add(progress.total)
        return Packed(base, "tar", files, progress.total, len(journal.parts), resumed=len(journal.parts))
    # every whole part but the last is full; a part gone or changed since is written again, and those after it
    whole = list(itertools.takewhile(lambda p: p[0] == part_size and _size(base.with_name(p[1])) == part_size,
                                     journal.parts))
    journal.restart(whole)
    skip = len(whole) * part_size
    check_room(base.parent, max(0, progress.total - skip))
    parts = _Parts(base, part_size, len(whole), journal)
    offset = 0

    def emit(data: bytes | memoryview) -> None:
        nonlocal offset
        end = offset + len(data)
        if end > skip:
            parts.write(memoryview(data)[max(0, skip - offset):])
        offset = end

    for data in (header(LOCK_NAME, len(raw)), raw, padding(len(raw))):
        emit(data)
    journal.sums[LOCK_NAME] = lock_digest(raw)
    for m in members(locked):
        emit(header(m.name, m.size))
        if offset + m.size <= skip and m.name in journal.sums:  # inside the parts already whole
            offset += m.size
        else:
            check = Check(m)
            fd = regular_fd(root / m.name)
            try:
                copy_checked(fd_reader(fd), emit, check, m.size)
            finally:
                os.close(fd)
            journal.sums[m.name] = check.finish(str(root))
            journal.line(f"file {journal.sums[m.name]} {m.name}")
        emit(padding(m.size))
        progress.add(m.size)
    emit(b"\0" * (2 * BLOCK))
    emit(b"\0" * (-offset % tarfile.RECORDSIZE))
    parts.close()
    sizes = [f"{s} {n}\n" for s, n in journal.parts]
    write_text_atomic(parts_file(base), sizes + [f"{s} {part_name(base, i).name}\n"
                                                 for i, s in _new_parts(base, len(journal.parts), parts.index)])
    write_text_atomic(sums_file(base), [sums_line(journal.sums[LOCK_NAME], LOCK_NAME)] +
                      [sums_line(journal.sums[m.name], m.name) for m in members(locked)])
    journal.line("complete")
    journal.f.close()
    return Packed(base, "tar", files, progress.total, parts.index, resumed=len(whole))


def _new_parts(base: Path, first: int, end: int) -> list[tuple[int, int]]:
    return [(i, os.stat(part_name(base, i)).st_size) for i in range(first, end)]
