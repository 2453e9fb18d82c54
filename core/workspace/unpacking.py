"""``unpack``: a pack into a root on a machine with no network. Every part is checked for presence and size,
every member against the pack's lock (its name, size and hash) as it streams into a staging folder of the root;
only once the whole pack checked out does anything land (``landing``). A missing, cut, damaged or tampered pack
is refused naming the part or the file, and the root is left as it was."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..local.jsonio import write_text_atomic
from ..local.lock import root_lock
from ..local.safeio import PlantedLink, make_dirs, open_fd, private_folder, read_capped
from ..safety import printable
from .landing import is_present, land
from .lockfile import LOCK_MAX, LOCK_NAME, LockedRepo, LockError, parse_lock
from .packs import (
    FILES,
    STAGING,
    SUMS,
    Check,
    Member,
    PackError,
    ReadInto,
    check_room,
    copy_checked,
    fd_reader,
    lock_digest,
    members,
    pack_kind,
    read_sums,
    regular_fd,
    sums_file,
    tar_base,
    write_all,
)
from .tarparts import PartReader, TarMembers

OnProgress = Callable[[int, int], object]


@dataclass
class Unpacked:
    root: Path
    repos: int
    files: int
    size: int
    present: int = 0  # files the root held already as the lock says
    linked: int = 0
    notes: list[str] = field(default_factory=list)
    resumed: int = 0  # files an earlier, cut off unpack staged and checked


def unpack(pack: Path, root: Path, *, min_free: int = 0, on_progress: OnProgress | None = None,
           cancel: threading.Event | None = None) -> Unpacked:
    """Check and stage every file of ``pack``, then land them in ``root`` (holding its writer lock). A pack
    refused leaves no staged file; an unpack cut off (interrupted, cancelled, a full disk) keeps the files it
    staged and checked, and the next unpack of the same lock goes on from them."""
    root.mkdir(parents=True, exist_ok=True)
    with root_lock(root):
        staging = root / STAGING
        try:
            if pack_kind(pack) == "tar":
                base = tar_base(pack)
                assert base is not None
                raw, locked, done = _from_tar(base, root, staging, min_free, on_progress, cancel)
            else:
                raw, locked, done = _from_folder(pack, root, staging, min_free, on_progress, cancel)
            done.notes = land(root, locked, staging, done.staged, min_free)
            write_text_atomic(root / LOCK_NAME, [raw.decode("utf-8")])  # the root's lock from now on
        except UnpackCut:
            raise
        except PackError as e:
            drop_staging(staging)
            raise PackError(f"{e}: nothing was unpacked") from None
        drop_staging(staging)
    return Unpacked(root, len(locked), done.files, done.size, done.present, done.linked, done.notes, done.resumed)


class UnpackCut(PackError):
    """An unpack cancelled: the files it staged and checked are kept for the next one."""


def drop_staging(staging: Path) -> None:
    if staging.is_symlink():  # planted: removed, never followed
        staging.unlink()
    shutil.rmtree(staging, ignore_errors=True)


@dataclass
class _Staged:
    staged: set[str] = field(default_factory=set)
    files: int = 0
    size: int = 0
    present: int = 0
    linked: int = 0
    notes: list[str] = field(default_factory=list)
    resumed: int = 0  # files an earlier unpack of this lock staged and checked


class _Stager:
    """Members into the staging folder, each checked against the lock before it takes its name there (a file
    under its name was checked); files the root holds already are only checked."""

    def __init__(self, root: Path, staging: Path, raw: bytes, locked: Sequence[LockedRepo], min_free: int | None,
                 on_progress: OnProgress | None, cancel: threading.Event | None) -> None:
        self.root, self.staging, self.cancel, self.on_progress = root, staging, cancel, on_progress
        self.total = sum(s for r in locked for _, s, _ in r.files)
        if min_free is not None:  # checked before a byte is written (hard links need none)
            check_room(root, self.total, min_free)
        self.done = _Staged()
        self.made: set[Path] = set()
        self.temp = staging / ".partial"  # no member's name starts there: theirs begin models/ or datasets/
        self._prepare(lock_digest(raw))

    def _prepare(self, digest: str) -> None:
        """The staging folder of an earlier unpack of this very lock is kept (ours, owner-only); any other is
        removed and made anew."""
        marker = self.staging / ".lock-sha256"
        try:
            keep = read_capped(marker, 100) == digest.encode()
            private_folder(self.staging)
        except OSError:  # none, another lock's, or not ours alone (UnsafeFolder)
            keep = False
        if not keep:
            drop_staging(self.staging)
            private_folder(self.staging)
            write_text_atomic(marker, [digest])
        drop_staging(self.temp)
        private_folder(self.temp)

    def target(self, m: Member) -> tuple[Path | None, bool]:
        """Where the member is staged (None when the root holds it already), and whether it is there, checked."""
        self.done.files += 1
        self.done.size += m.size
        if is_present(self.root, m.repo, m.path, m.size, m.digest):
            self.done.present += 1
            return None, False
        dest = self.staging / m.name
        if dest.parent not in self.made:
            make_dirs(dest.parent, self.staging)
            self.made.add(dest.parent)
        self.done.staged.add(m.name)
        try:
            st = os.lstat(dest)
            there = stat.S_ISREG(st.st_mode) and st.st_size == m.size
        except OSError:
            there = False
        self.done.resumed += there
        return dest, there

    def copy(self, m: Member, read: ReadInto, where: str, link: Path | None = None) -> None:
        """The member's bytes checked against the lock, then staged under its name: written, or (``link``: the
        pack's own file on the root's filesystem) hard-linked."""
        dest, there = self.target(m)
        check = Check(m)
        tmp = self.temp / str(self.done.files)
        if dest is None or there:
            copy_checked(read, None, check, m.size)
        elif link is not None:
            os.link(link, tmp, follow_symlinks=False)
            self.done.linked += 1
            copy_checked(read, None, check, m.size)
        else:
            out = open_fd(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            try:
                copy_checked(read, lambda b: write_all(out, b), check, m.size)
            finally:
                os.close(out)
        check.finish(where)
        if dest is not None and not there:
            os.replace(tmp, dest)
        self.progress(m.size)

    def progress(self, n: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise UnpackCut("cancelled: the files checked so far are kept, and the next unpack goes on from them")
        if self.on_progress is not None:
            self.on_progress(self.done.size, self.total)


def _lock_of(raw: bytes, where: str, sums: dict[str, str]) -> list[LockedRepo]:
    if sums.get(LOCK_NAME) not in (None, lock_digest(raw)):
        raise PackError(f"{where}: not the lock its sha256 manifest names (damaged or tampered)")
    try:
        return parse_lock(raw, where)
    except LockError as e:
        raise PackError(str(e)) from None


def _from_folder(pack: Path, root: Path, staging: Path, min_free: int, on_progress: OnProgress | None,
                 cancel: threading.Event | None) -> tuple[bytes, list[LockedRepo], _Staged]:
    sums = read_sums(pack / SUMS)
    if not sums:
        raise PackError(f"{pack}: no {SUMS}: not a musicgen-tui pack, or one not finished (run pack again)")
    lock_path = pack / LOCK_NAME
    try:
        raw = read_capped(lock_path, LOCK_MAX)
    except OSError as e:
        raise PackError(f"{lock_path}: {e.strerror or e}") from None
    locked = _lock_of(raw, str(lock_path), sums)
    same_fs = os.stat(pack).st_dev == os.stat(root).st_dev
    stager = _Stager(root, staging, raw, locked, None if same_fs else min_free, on_progress, cancel)
    for m in members(locked):
        src = pack / FILES / m.name
        try:
            fd = regular_fd(src)
        except (FileNotFoundError, PlantedLink) as e:
            raise PackError(f"{src}: {'missing' if isinstance(e, FileNotFoundError) else 'a symbolic link'}") \
                from None
        try:
            if os.fstat(fd).st_size != m.size:
                raise PackError(f"{src}: {os.fstat(fd).st_size} bytes, the lock says {m.size}")
            stager.copy(m, fd_reader(fd), str(pack / FILES), link=src if same_fs else None)
        finally:
            os.close(fd)
    return raw, locked, stager.done


def _from_tar(base: Path, root: Path, staging: Path, min_free: int, on_progress: OnProgress | None,
              cancel: threading.Event | None) -> tuple[bytes, list[LockedRepo], _Staged]:
    parts = PartReader(base)
    sums = read_sums(sums_file(base))
    try:
        tar = TarMembers(parts)
        first = tar.next()
        if first is None or first != (LOCK_NAME, first[1]) or first[1] > LOCK_MAX:
            raise PackError(f"{parts.current}: its first member is no {LOCK_NAME}: not a musicgen-tui pack")
        raw = tar.read_member()
        locked = _lock_of(raw, f"{base.name}: {LOCK_NAME}", sums)
        stager = _Stager(root, staging, raw, locked, min_free, on_progress, cancel)
        for m in members(locked):
            got = tar.next()
            if got is None:
                raise PackError(f"{parts.current}: the pack ends before {printable(m.name)}: cut")
            if got != (m.name, m.size):
                raise PackError(f"{parts.current}: holds {printable(got[0])} ({got[1]} bytes) where the lock has "
                                f"{printable(m.name)} ({m.size}): damaged or tampered")
            stager.copy(m, tar.readinto, parts.current)
        if tar.next() is not None:
            raise PackError(f"{parts.current}: holds more than its lock names: tampered")
    finally:
        parts.close()
    return raw, locked, stager.done
