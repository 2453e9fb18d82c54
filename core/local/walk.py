"""File sizes below a repo folder, at the speed of the ``lstat`` calls.

On a large tree the stat calls are the cost (about 1.5 µs each in the kernel, as for ``du``), so a
single-threaded process forks once and the two processes share them (each takes every other folder, or
every other file when the folders are few), and the child sends its sizes back through a pipe. Threads
cannot do this (each call would hand the GIL over), and a process that already runs threads (the app)
never forks: it walks alone.
"""

from __future__ import annotations

import heapq
import operator
import os
import stat
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .forked import Forked

Group = tuple[str, list[str], array]  # (folder prefix "a/b/" or "", file names, their sizes)
Pending = tuple[str, str]  # (folder path, its prefix): a folder still to list
Visit = Callable[[int, list[str], array], Any]  # (open folder's fd, its files' names, their sizes) -> marshal-able

FORK_AFTER = 1000  # files met before a walk is worth a second process (a fork costs about 1 ms)
SPLIT_BY_SUBTREE = 8  # folders still to list from which the two processes take every other one
SKIP_AT_TOP = frozenset({".cache"})


class FileTable:
    """The regular files found below a folder, grouped by folder; paths are built only when asked for."""

    def __init__(self, groups: list[Group], visited: list[Any] | None = None) -> None:
        self.groups = groups
        self.visited = visited  # what the walk's ``visit`` made of each group, in the same order
        self._sorted: list[tuple[str, int]] | None = None

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, int]]) -> FileTable:
        by_folder: dict[str, tuple[list[str], array]] = {}
        for rel, size in pairs:
            folder, _, name = rel.rpartition("/")
            names, sizes = by_folder.setdefault(folder + "/" if folder else "", ([], array("q")))
            names.append(name)
            sizes.append(size)
        return cls([(p, n, s) for p, (n, s) in by_folder.items()])

    def __len__(self) -> int:
        return sum(len(names) for _, names, _ in self.groups)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for prefix, names, sizes in self.groups:
            for name, size in zip(names, sizes, strict=True):
                yield prefix + name, size

    @property
    def total(self) -> int:
        return sum(sum(sizes) for _, _, sizes in self.groups)

    def sorted(self) -> list[tuple[str, int]]:
        """Every ``(relative path, size)``, sorted by path (built once)."""
        if self._sorted is None:
            self._sorted = sorted(self)
        return self._sorted

    def largest(self, n: int) -> list[tuple[str, int]]:
        """The ``n`` largest files, largest first, ties by path."""
        if n <= 0 or not self.groups:
            return []
        sizes = heapq.nlargest(n, (s for _, _, group in self.groups for s in _top(group, n)))
        floor = sizes[-1]
        candidates = [(prefix + name, size) for prefix, names, group in self.groups
                      for name, size in zip(names, group, strict=True) if size >= floor]
        return heapq.nsmallest(n, candidates, key=lambda f: (-f[1], f[0]))

    def has_all(self, folders: Iterable[tuple[str, list[str], Sequence[int]]]) -> bool:
        """Whether every file of ``folders`` (``(prefix, names, sizes)``, one folder at a time) is here with that
        size. Only one folder's names are indexed at a time."""
        by_prefix: dict[str, list[tuple[list[str], array]]] = {}
        for prefix, found, found_sizes in self.groups:
            by_prefix.setdefault(prefix, []).append((found, found_sizes))
        for prefix, names, sizes in folders:
            here: dict[str, int] = {}
            for found, found_sizes in by_prefix.get(prefix, []):
                here.update(zip(found, found_sizes, strict=True))
            if len(names) != len(sizes) or not all(map(operator.eq, map(here.get, names), sizes)):
                return False
        return True


def _top(sizes: array, n: int) -> list[int]:
    return heapq.nlargest(n, sizes) if len(sizes) > n else list(sizes)


def walk(top: Path, visit: Visit | None = None) -> FileTable:
    """Every regular file below ``top`` (symlinks and the top-level ``.cache`` left out).

    One process stats the first files; once a walk has met ``FORK_AFTER`` files, a single-threaded process
    forks and the two share the rest (``_shared``). ``visit(folder_fd, names, sizes)``, when given, is called
    for each group by the process that stats it, while the folder is open and its entries are fresh; its
    results (marshal-able) are the table's ``visited``."""
    stack: list[Pending] = [(str(top), "")]
    found = _Found(visit)
    seen, asked = 0, False
    while stack:
        folder, prefix = stack.pop()
        names = _list(folder, prefix, stack)
        if names is None:
            continue
        seen += len(names)
        if seen >= FORK_AFTER and not asked:
            asked = True
            shared = _shared(folder, prefix, names, stack, visit) if may_fork() else None
            if shared is not None:
                found.groups += shared.groups
                found.visited += shared.visited
                break
        _stat_into(found, folder, prefix, names)  # alone (also when the fork or the child failed)
    return FileTable(found.groups, found.visited if visit is not None else None)


class _Found:
    """The groups a walk (or half of one) found, and what its ``visit`` made of each."""

    __slots__ = ("groups", "visit", "visited")

    def __init__(self, visit: Visit | None) -> None:
        self.groups: list[Group] = []
        self.visited: list[Any] = []
        self.visit = visit


def may_fork() -> bool:
    threading = sys.modules.get("threading")  # never imported: no thread was ever started
    if threading is not None and threading.active_count() > 1:
        return False  # forking a process that runs threads can leave the child on a lock it will never get
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return hasattr(os, "fork") and cores > 1


def _list(folder: str, prefix: str, stack: list[Pending]) -> list[str] | None:
    """The names of a folder's non-folder entries; its subfolders go on ``stack``. None when unreadable."""
    names: list[str] = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):  # the type comes from getdents: no stat
                    if prefix or e.name not in SKIP_AT_TOP:
                        stack.append((f"{folder}/{e.name}", f"{prefix}{e.name}/"))
                else:
                    names.append(e.name)
    except OSError:
        return None
    return names


def _stat_into(found: _Found, folder: str, prefix: str, names: list[str]) -> None:
    """Add the regular files among ``names`` with their sizes: one ``lstat`` each, relative to the folder (and
    the visit's result, made while the folder is open)."""
    if not names:
        return
    kept: list[str] = []
    sizes = array("q")
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    lstat, is_reg = os.lstat, stat.S_ISREG
    try:
        for name in names:
            try:
                st = lstat(name, dir_fd=fd)
            except OSError:
                continue
            if is_reg(st.st_mode):
                kept.append(name)
                sizes.append(st.st_size)
        if kept:
            found.groups.append((prefix, kept, sizes))
            if found.visit is not None:
                found.visited.append(found.visit(fd, kept, sizes))
    finally:
        os.close(fd)


def _half(folder: str, prefix: str, names: list[str], pending: list[Pending], part: int,
          visit: Visit | None) -> _Found:
    """Process ``part``'s half of the rest of a walk. With many folders still to list, each process takes every
    other one, with everything below it (nobody lists a folder twice); with few (say one huge subfolder),
    both list them all and each stats every other file, so any shape splits evenly."""
    found = _Found(visit)
    _stat_into(found, folder, prefix, names[part::2])
    by_subtree = len(pending) >= SPLIT_BY_SUBTREE
    stack = pending[part::2] if by_subtree else list(pending)
    seen = len(names)
    while stack:
        folder, prefix = stack.pop()
        names_here = _list(folder, prefix, stack)
        if names_here is None:
            continue
        if by_subtree:
            _stat_into(found, folder, prefix, names_here)
        else:
            _stat_into(found, folder, prefix, names_here[(part - seen) % 2::2])
            seen += len(names_here)
    return found


def _shared(folder: str, prefix: str, names: list[str], pending: list[Pending],
            visit: Visit | None) -> _Found | None:
    """The rest of the walk split with a forked child, which sends its groups back through a pipe; None when
    the fork or the child failed (``pending`` is left as it was, so the caller walks on alone)."""
    def child_half() -> tuple[list[tuple[str, list[str], bytes]], list[Any]]:
        half = _half(folder, prefix, names, pending, 1, visit)
        return [(p, n, s.tobytes()) for p, n, s in half.groups], half.visited

    child = Forked.start(child_half)
    if child is None:
        return None
    try:
        found = _half(folder, prefix, names, pending, 0, visit)
        theirs = child.result()
    finally:
        child.stop()
    if not isinstance(theirs, tuple):
        return None
    for prefix_, kept, raw in theirs[0]:
        sizes = array("q")
        sizes.frombytes(raw)
        found.groups.append((prefix_, kept, sizes))
    found.visited += theirs[1]
    return found


KeyJob = tuple[str, str]  # (folder prefix, the names expected there joined by NUL, as the record packs them)
KEY_FIELDS = 4  # st_size, st_mtime_ns, st_ctime_ns, st_ino


def stat_folders(top: Path, folders: list[KeyJob]) -> dict[str, array]:
    """The stat keys (size, mtime_ns, ctime_ns, inode: four integers a file, ``-1`` four times for a file that
    is missing or not a regular file) of the named files, by folder prefix. One ``stat`` a file, relative to
    its open folder; shared with a forked child as ``walk`` does, when the process may fork."""
    if sum(names.count("\0") + 1 for _, names in folders) >= FORK_AFTER and may_fork():
        shared = _stat_shared(top, folders)
        if shared is not None:
            return shared
    return {prefix: _keys(top, prefix, names) for prefix, names in folders}


def _keys(top: Path, prefix: str, joined: str) -> array:
    names = joined.split("\0") if joined else []
    out = array("q")
    try:
        fd = os.open(f"{top}/{prefix}" if prefix else str(top), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        out.extend((-1, -1, -1, -1) * len(names))
        return out
    stat_, is_reg = os.stat, stat.S_ISREG
    try:
        for name in names:
            try:
                st = stat_(name, dir_fd=fd)
            except OSError:
                out.extend((-1, -1, -1, -1))
                continue
            if is_reg(st.st_mode):
                out.extend((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
            else:
                out.extend((-1, -1, -1, -1))
    finally:
        os.close(fd)
    return out


def _stat_shared(top: Path, folders: list[KeyJob]) -> dict[str, array] | None:
    """``stat_folders`` split with a forked child: each takes every other folder, or every other file of one
    folder; None when the fork or the child failed."""
    if len(folders) == 1:  # one big folder: split its names
        prefix, joined = folders[0]
        names = joined.split("\0")
        halves = [[(prefix, "\0".join(names[0::2]))], [(prefix, "\0".join(names[1::2]))]]
    else:
        halves = [folders[0::2], folders[1::2]]
    child = Forked.start(lambda: [(p, _keys(top, p, n).tobytes()) for p, n in halves[1]])
    if child is None:
        return None
    try:
        mine = [(p, _keys(top, p, n)) for p, n in halves[0]]
        theirs = child.result()
    finally:
        child.stop()
    if not isinstance(theirs, list):
        return None
    got = []
    for p, raw in theirs:
        keys = array("q")
        keys.frombytes(raw)
        got.append((p, keys))
    if len(folders) == 1:  # interleave the two halves back into the folder's order
        a, b = mine[0][1], got[0][1]
        merged = array("q", bytes(8 * (len(a) + len(b))))
        for k in range(KEY_FIELDS):
            merged[k::2 * KEY_FIELDS] = a[k::KEY_FIELDS]
            merged[KEY_FIELDS + k::2 * KEY_FIELDS] = b[k::KEY_FIELDS]
        return {folders[0][0]: merged}
    return dict(mine + got)

