"""A pack: a lock's files carried to a machine with no network. Two forms, both holding the lock:

- a folder (``pack --output DIR``): ``DIR/musicgen.lock``, ``DIR/SHA256SUMS`` (``sha256sum -c`` reads it from
  DIR) and ``DIR/files/<path in the root>``, hard links of the root's files where DIR shares their filesystem;
- a tar stream (``pack --output NAME.tar``) split into parts ``NAME.tar.000``, ``NAME.tar.001``, … of
  ``--part-size`` bytes for removable media (``cat NAME.tar.[0-9]* | tar -x`` reads it too), the lock its first
  member; ``NAME.tar.parts`` (each part's size and name, so a missing or cut part is named) and
  ``NAME.tar.sha256`` (every member's sha256: ``sha256sum -c`` checks a ``tar -x`` of it) are written once the
  last part is whole.

Members come in the lock's order, each named by its path in the root and checked against the lock's hash as its
bytes stream by (packing and unpacking read every byte once)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..local.hashing import new_hasher
from ..local.safeio import NotRegular, open_regular, read_capped
from ..remote import hash_algorithm, proves
from ..safety import printable, unsafe_reason
from .lockfile import LockedRepo

SUMS = "SHA256SUMS"
STAGING = ".musicgen-unpack"  # in a root: an unpack's checked files before they land
FILES = "files"
CHUNK = 4 << 20
TEXT_MAX = 256 << 20  # bytes of a pack's sums or parts' list read at most


class PackError(Exception):
    """A pack (or a root being packed) that cannot be used: one line naming the file."""


class NoRoom(Exception):
    """Less free space where a pack or an unpack writes than its files need: said before a byte is written."""


def check_room(where: Path, need: int, keep: int = 0) -> None:
    """``NoRoom`` when the disk holding ``where`` has less than ``need`` bytes free beyond ``keep``."""
    from ..local.space import free_space

    free = free_space(where) - keep
    if need > free:
        from ..sizes import human

        raise NoRoom(f"not enough free space at {where}: {human(need)} to write, {human(max(0, free))} free"
                     + (" beyond MUSICGEN_MIN_FREE" if keep else "") + "; free some space")


@dataclass(frozen=True, slots=True)
class Member:
    repo: LockedRepo
    path: str  # in the repo
    size: int
    digest: str  # the lock's hash

    @property
    def name(self) -> str:
        """Its path in the root, and in the pack."""
        return f"{self.repo.ref.relpath()}/{self.path}"


def members(locked: Sequence[LockedRepo]) -> Iterator[Member]:
    """Every locked file, in the lock's order; a path that could climb out of its repo refuses the lock."""
    for r in locked:
        for path, size, digest in r.files:
            if (why := unsafe_reason(path)) is not None or size < 0:
                raise PackError(f"{r.ref.repo_id}: {printable(path)}: {why or 'a negative size'}: not a lock to pack "
                                "or unpack")
            yield Member(r, path, size, digest)


def pack_kind(target: Path) -> str:
    """``tar`` for a path ending in ``.tar`` (or one of its parts or its sums), else ``folder``."""
    return "tar" if tar_base(target) is not None else "folder"


def tar_base(target: Path) -> Path | None:
    """``NAME.tar`` for ``NAME.tar``, ``NAME.tar.000`` or ``NAME.tar.sha256``; None for anything else."""
    name = target.name
    for suffix in (".sha256", ".journal"):
        if name.endswith(".tar" + suffix):
            return target.with_name(name[: -len(suffix)])
    head, dot, tail = name.rpartition(".")
    if dot and tail.isdigit() and head.endswith(".tar"):
        return target.with_name(head)
    return target if name.endswith(".tar") else None


def part_name(base: Path, i: int) -> Path:
    return base.with_name(f"{base.name}.{i:03d}")


class Check:
    """A member's bytes as they stream by: the lock's hash and their sha256 (the pack's manifest), at once."""

    def __init__(self, member: Member) -> None:
        self.member = member
        algorithm = hash_algorithm(member.digest)
        self.lock_hasher: Any = new_hasher(algorithm, member.size)
        self.sha: Any = self.lock_hasher if algorithm == "sha256" else new_hasher("sha256", member.size)
        self.seen = 0

    def update(self, data: bytes | memoryview) -> None:
        self.lock_hasher.update(data)
        if self.sha is not self.lock_hasher:
            self.sha.update(data)
        self.seen += len(data)

    def finish(self, where: str) -> str:
        """The sha256 of what went by; ``PackError`` naming the file when it is not the lock's."""
        m = self.member
        if self.seen != m.size:
            raise PackError(f"{where}: {printable(m.name)}: {self.seen} bytes, the lock says {m.size}")
        if not proves(m.digest, self.lock_hasher.hexdigest()):
            raise PackError(f"{where}: {printable(m.name)}: its bytes are not the lock's ({m.digest[:16]}…)")
        return str(self.sha.hexdigest())


_local = threading.local()
THREAD_MIN = 1 << 20  # chunks hashed on a second thread from this size on (a thread costs more for less)
ReadInto = Callable[[memoryview], int]  # fills the view's start; the bytes it put there (0: no more)


def _buffers() -> tuple[memoryview, memoryview]:
    """This thread's two chunk buffers, allocated once: fresh 4 MiB reads cost the kernel a page fault each."""
    bufs: tuple[memoryview, memoryview] | None = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = (memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK)))
    return bufs


def copy_checked(readinto: ReadInto, write: Callable[[memoryview], object] | None, check: Check, size: int) -> None:
    """``size`` bytes from ``readinto`` to ``write`` (None: only checked), a chunk hashed on a second thread while
    the next one is read and written: two cores, one pass over the bytes, two buffers reused."""
    bufs = _buffers()
    pending: threading.Thread | None = None
    done = k = 0
    while done < size:
        view = bufs[k][: min(CHUNK, size - done)]
        n = readinto(view)
        if not n:
            break
        data = view[:n]
        if pending is not None:
            pending.join()
            pending = None
        if n >= THREAD_MIN:
            pending = threading.Thread(target=check.update, args=(data,))  # hashlib lets go of the GIL
            pending.start()
        else:
            check.update(data)
        if write is not None:
            write(data)
        done += n
        k ^= 1
    if pending is not None:
        pending.join()


def fd_reader(fd: int) -> ReadInto:
    return lambda view: os.readv(fd, [view])


WRITE = 256 << 10  # bytes a write: 4 MiB writes cost this kernel up to 3 times the system time of 256 KiB ones


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:WRITE]):]


def sums_line(digest: str, name: str) -> str:
    return f"{digest}  {name}\n"


def read_text_capped(path: Path, cap: int = TEXT_MAX) -> str:
    """A pack's text file (its sums, its parts' list): never through a link, never more than ``cap`` bytes."""
    try:
        return read_capped(path, cap).decode("utf-8")
    except UnicodeDecodeError as e:
        raise PackError(f"{path}: unreadable ({e})") from None


def read_sums(path: Path) -> dict[str, str]:
    """``name -> sha256`` of a ``sha256sum`` file (a missing one: empty)."""
    out: dict[str, str] = {}
    try:
        text = read_text_capped(path)
    except FileNotFoundError:
        return out
    except OSError as e:
        raise PackError(f"{path}: unreadable ({e.strerror or e})") from None
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if sep and len(digest) == 64:
            out[name] = digest
    return out


def parts_file(base: Path) -> Path:
    return base.with_name(base.name + ".parts")


def sums_file(base: Path) -> Path:
    return base.with_name(base.name + ".sha256")


def lock_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def regular_fd(path: Path) -> int:
    """A file of the root or of a pack opened to read: never through a planted link, never a device or a FIFO."""
    try:
        return open_regular(path)
    except NotRegular:
        raise PackError(f"{printable(str(path))}: not a regular file") from None
