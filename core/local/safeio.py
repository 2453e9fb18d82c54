"""Opening files in a root that other users may write to: a planted final symlink is refused, never followed.

Shared data folders (``/data``, ``/scratch``) are often writable by everyone. There another user can plant the
name of a file this tool is about to write (its lock, its log, a record, a partial download) as a symlink to
one of your files; following it would truncate or append to that file. Every file the tool creates or rewrites
in a root is opened here, with ``O_NOFOLLOW``, or created under a fresh random name with ``O_EXCL``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import IO, BinaryIO, cast

_warned: set[Path] = set()


class PlantedLink(OSError):
    """A file the tool would write is a symbolic link: refused, with one line naming the path."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__(errno.ELOOP, "symbolic link refused", str(path))

    def __str__(self) -> str:
        return (f"refusing to write {self.filename}: it is a symbolic link (another user of this folder may have "
                "planted it); remove it if you did not make it, then run again")

    def __reduce__(self) -> tuple[type[PlantedLink], tuple[str]]:
        return type(self), (str(self.filename),)


class UnsafeFolder(OSError):
    """A private folder of this tool that another user made or can write to."""

    def __init__(self, path: os.PathLike[str] | str, why: str) -> None:
        super().__init__(errno.EPERM, why, str(path))

    def __str__(self) -> str:
        return (f"refusing to use {self.filename}: {self.strerror}; remove it (or let its owner remove it), "
                "then run again")


def private_folder(path: Path) -> Path:
    """``path`` as a folder only this user can write to: made with mode 0700 when absent; one made by another
    user, one that others can write, or a symlink in its place is refused (``UnsafeFolder``)."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFolder(path, "it is not a folder (a symbolic link or a file stands in its place)")
    if st.st_uid != os.getuid():
        raise UnsafeFolder(path, f"it belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o022:
        raise UnsafeFolder(path, f"other users can write to it (mode {stat.S_IMODE(st.st_mode):o})")
    return path


def make_dirs(folder: Path, root: Path) -> None:
    """``folder`` and the folders between it and ``root``, made where absent; one that is a symbolic link (a
    neighbour's ``models/acme`` pointing at your home) is refused with ``PlantedLink``, never written through.
    ``root`` itself may be a link: the user chose it."""
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            try:
                os.mkdir(current)
                continue
            except FileExistsError:
                st = os.lstat(current)
        if stat.S_ISLNK(st.st_mode):
            raise PlantedLink(current)
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(current))


def open_fd(path: os.PathLike[str] | str, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never follows a final symlink (``PlantedLink`` instead)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise PlantedLink(path) from None
        raise


class NotRegular(OSError):
    """A file to read that is a device, a FIFO or a folder: refused."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", str(path))


class TooLarge(OSError):
    """A file to read whole that is over its cap (a size said by ``stat`` is not trusted: it is counted)."""

    def __init__(self, path: os.PathLike[str] | str, cap: int) -> None:
        super().__init__(errno.EFBIG, f"over {cap} bytes", str(path))


def open_regular(path: os.PathLike[str] | str, *, follow: bool = False) -> int:
    """A regular file opened to read, never through a final symlink unless ``follow``; a FIFO planted in its
    place never blocks the open (``O_NONBLOCK``) and is refused with anything else but a file (``NotRegular``)."""
    flags = os.O_RDONLY | os.O_NONBLOCK
    fd = os.open(path, flags | os.O_CLOEXEC) if follow else open_fd(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegular(path)
    return fd


def read_capped(path: os.PathLike[str] | str, cap: int, *, follow: bool = False) -> bytes:
    """A regular file's bytes (``open_regular``), ``TooLarge`` past ``cap`` of them."""
    with os.fdopen(open_regular(path, follow=follow), "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise TooLarge(path, cap)
    return data


def open_append(path: os.PathLike[str] | str, buffering: int = -1) -> BinaryIO:
    """``open(path, "ab")``, created when absent, never through a symlink."""
    return cast(BinaryIO, os.fdopen(open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab", buffering=buffering))


def open_update(path: os.PathLike[str] | str) -> IO[bytes]:
    """``open(path, "r+b")``, never through a symlink."""
    return os.fdopen(open_fd(path, os.O_RDWR), "r+b")


def create_temp(path: Path) -> tuple[int, Path]:
    """A new hidden ``.{name}.{pid}-{random}.tmp`` beside ``path``, created exclusively: a name planted in advance
    (even as a symlink) is never opened, and a stale temp file of a killed run is never reused (``sweep_temps``
    removes it)."""
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}-{os.urandom(6).hex()}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:
            continue


def replace_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a fresh temp file beside ``path`` and rename it over ``path`` (a rename replaces a
    planted symlink itself, never its target)."""
    fd, tmp = create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sweep_temps(path)


def _temp_pid(name: str, target: str) -> int | None:
    """The pid in one of ``create_temp``'s names for ``target``, or None when ``name`` is not one."""
    return temp_pid(name) if name.startswith(f".{target}.") else None


def temp_pid(name: str) -> int | None:
    """The pid in one of ``create_temp``'s names (``.{name}.{pid}-{12 hex}.tmp``), or None when it is none."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    pid, dash, rand = name[:-4].rpartition(".")[2].partition("-")
    return int(pid) if dash and pid.isdigit() and len(rand) == 12 else None


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs. A zombie (ended, its exit status not yet collected by whoever adopted it)
    does not: it holds no lock and writes nothing."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def sweep_temps(path: Path) -> int:
    """Remove the temp files ``create_temp`` left beside ``path`` in a run that was killed (their process is
    gone); a live process's temp file is left alone. Returns how many went."""
    removed = 0
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(f".{path.name}.") and n.endswith(".tmp")]
    except OSError:
        return 0
    for name in names:
        pid = _temp_pid(name, path.name)
        if pid is None or pid == os.getpid() or process_alive(pid):
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(path.parent / name).st_mode):
                os.unlink(path.parent / name)
                removed += 1
    return removed


def shared_root_warning(root: Path, *, once: bool = True) -> str | None:
    """One line when other users may write to ``root`` and the sticky bit does not stop them from replacing this
    tool's files; with ``once``, only the first time this process asks about that root."""
    if once and root in _warned:
        return None
    _warned.add(root)
    try:
        st = os.stat(root)
    except OSError:
        return None
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return (f"warning: {root} is writable by every user and has no sticky bit: others can replace or plant "
                f"files here (`chmod o-w {root}` or `chmod +t {root}` stops them); symlinks are refused")
    return None
