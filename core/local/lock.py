"""One writer per root: an advisory lock file, so two runs never write the same files."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .safeio import open_fd

LOCK_NAME = ".musicgen-tui.lock"


class LockHeld(Exception):
    """Another process is downloading into this root."""


@contextmanager
def root_lock(root: Path) -> Iterator[None]:
    """Hold the root's lock for the block; raise LockHeld at once if another process holds it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = open_fd(path, os.O_RDWR | os.O_CREAT)  # a planted symlink is refused, never truncated
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise LockHeld(f"another musicgen-tui (pid {holder}) is downloading into {root}; "
                           "wait for it to finish, or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
