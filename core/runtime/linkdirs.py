"""Folders of links, walked by file descriptor: a folder of a view that another user replaced with a symbolic
link is refused (``PlantedLink``), never followed, and a link is swapped in by rename so a reader never sees a
missing file."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from ..local.safeio import PlantedLink

LINK_FAILURES = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP}


class Dirs:
    """Open folder descriptors below one folder, made where absent; closed together."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._fds: dict[str, int] = {"": os.open(top, os.O_RDONLY | os.O_DIRECTORY)}

    def fd(self, rel: str) -> int:
        """The folder ``rel`` (``a/b``) below the top, made where absent, never through a symbolic link."""
        if rel in self._fds:
            return self._fds[rel]
        parent, _, name = rel.rstrip("/").rpartition("/")
        if name in ("", ".", ".."):  # a record's folder never climbs out of the view
            raise ValueError(f"not a folder name: {rel!r}")
        pfd = self.fd(parent)
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=pfd)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=pfd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PlantedLink(self.top / rel) from None
            raise
        self._fds[rel] = fd
        return fd

    def release(self, rel: str) -> None:
        """Close one folder's descriptor (a dataset of 300,000 files in 10,000 folders keeps few open)."""
        fd = self._fds.pop(rel, None) if rel else None
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Dirs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def entries(fd: int) -> Iterator[os.DirEntry[str]]:
    """A folder's entries by descriptor (their inode numbers come with them: no stat)."""
    with os.scandir(fd) as it:
        yield from it


def remove(fd: int, name: str) -> None:
    """Remove ``name`` in the folder ``fd``: a file or link unlinked, a folder removed with what it holds."""
    try:
        st = os.lstat(name, dir_fd=fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=fd)
    else:
        os.unlink(name, dir_fd=fd)


def put_link(source: Path, fd: int, name: str, folder: Path, hard: bool) -> bool:
    """Make ``name`` in folder ``fd`` (``folder``) a link to ``source``, swapped in by rename. A hard link when
    ``hard`` and the file system allows it; else a relative symbolic link. Returns whether it was hard."""
    temp = f".{name[:80]}.{secrets.token_hex(4)}.link"
    if hard:
        try:
            os.link(source, temp, dst_dir_fd=fd, follow_symlinks=False)
        except OSError as e:
            if e.errno not in LINK_FAILURES:
                raise
            hard = False
    if not hard:
        os.symlink(os.path.relpath(source, folder), temp, dir_fd=fd)
    try:
        os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=fd)
        raise
    return hard


def put_text(fd: int, name: str, text: str) -> bool:
    """``name`` in folder ``fd`` holds ``text`` (rewritten by rename only when it differs); True when written."""
    try:
        ffd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        with os.fdopen(ffd, "r", encoding="utf-8") as f:
            if f.read(4096) == text:
                return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
    temp = f".{name}.{secrets.token_hex(4)}.tmp"
    wfd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
    with os.fdopen(wfd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
    return True
