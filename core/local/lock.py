"""One writer per root: an advisory lock file, so two runs never write the same files, also from two hosts of a
cluster sharing the root over NFS or Lustre. Its holder is written into it as ``pid@host``; a root on a mount
whose locks hold on one host only (NFS ``nolock`` or ``local_lock``, Lustre ``localflock``, or no locks at all)
is refused, named, rather than written by two hosts at once."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .safeio import open_fd

LOCK_NAME = ".musicgen-tui.lock"
MOUNTINFO = "/proc/self/mountinfo"
_HOST_ONLY = {"nolock": "nolock", "local_lock=all": "local_lock=all", "local_lock=flock": "local_lock=flock",
              "localflock": "localflock"}
_NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)


class LockHeld(Exception):
    """Another process is downloading into this root."""


class LockUnsafe(LockHeld):
    """The root's filesystem keeps locks for this host only, or none: two hosts could write it at once."""


@dataclass(frozen=True)
class Holder:
    pid: str
    host: str  # empty: written by a version that did not say

    @property
    def elsewhere(self) -> bool:
        return bool(self.host) and self.host != socket.gethostname()

    def __str__(self) -> str:
        return f"pid {self.pid}" + (f" on host {self.host}" if self.elsewhere else "")


def read_holder(root: Path) -> Holder | None:
    """Who wrote the root's lock last (it may have ended since): read, never locked."""
    try:
        fd = open_fd(root / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        text = os.pread(fd, 300, 0).decode(errors="replace").strip()
    finally:
        os.close(fd)
    pid, _, host = text.partition("@")
    return Holder(pid or "?", host) if text else None


def lock_scope_problem(root: Path, mountinfo: str | None = None) -> str | None:
    """Why the root's lock would not keep a second host out (its mount's type and options), or None."""
    if mountinfo is None:
        try:
            mountinfo = Path(MOUNTINFO).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    real = os.path.realpath(root)
    best: tuple[str, str, set[str]] | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 3:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, tail[0], set(fields[5].split(",")) | set(tail[2].split(",")))
    if best is None:
        return None
    point, fstype, options = best
    if not (fstype.startswith("nfs") or fstype == "lustre"):
        return None
    said = sorted(_HOST_ONLY[o] for o in options if o in _HOST_ONLY)
    if not said:
        return None
    return (f"{root} is on {fstype} ({point}) mounted with {', '.join(said)}: its lock holds on this host only, so "
            "two hosts could write it at once. Mount it with locks across hosts (NFS: the default lock; Lustre: "
            "-o flock), or give each node a root of its own (musicgen-tui pack, or download --lock)")


@contextmanager
def root_lock(root: Path) -> Iterator[None]:
    """Hold the root's lock for the block; raise LockHeld at once if another process (on any host) holds it, and
    LockUnsafe when the lock would not keep other hosts out."""
    root.mkdir(parents=True, exist_ok=True)
    if (problem := lock_scope_problem(root)) is not None:
        raise LockUnsafe(problem)
    path = root / LOCK_NAME
    fd = open_fd(path, os.O_RDWR | os.O_CREAT)  # a planted symlink is refused, never truncated
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # over NFS, Linux takes it as a lock of the server's
        except BlockingIOError:
            holder = read_holder(root) or Holder("?", "")
            where = f"; run musicgen-tui on {holder.host} to watch or stop it" if holder.elsewhere else \
                "; wait for it to finish, or stop it"
            raise LockHeld(f"another musicgen-tui ({holder}) is downloading into {root}{where}") from None
        except OSError as e:
            if e.errno in _NO_LOCKS:
                raise LockUnsafe(f"{root}: its filesystem keeps no locks ({e.strerror}), so two writers could "
                                 "meet there: on Lustre mount with -o flock, or use a root on another disk") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}@{socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)
