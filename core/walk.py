"""File sizes below a repo folder, at the speed of the ``lstat`` calls.

On a large tree the stat calls are the cost (about 1.5 µs each in the kernel, as for ``du``), so a
single-threaded process forks once and the two processes share them: both list every folder (cheap: the
names and types come from ``getdents``), each stats every other file, and the child sends its sizes back
through a pipe. Threads cannot do this (each call would hand the GIL over), and a process that already runs
threads (the app) never forks: it walks alone.
"""

from __future__ import annotations

import heapq
import marshal
import os
import stat
import sys
from array import array
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

Group = tuple[str, list[str], array]  # (folder prefix "a/b/" or "", file names, their sizes)
Listed = tuple[str, str, list[str]]  # (folder path, its prefix, the names of its non-folder entries)

FORK_AFTER = 1000  # files met before a walk is worth a second process (a fork costs about 1 ms)
SKIP_AT_TOP = frozenset({".cache"})


class FileTable:
    """The regular files found below a folder, grouped by folder; paths are built only when asked for."""

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        self._sorted: list[tuple[str, int]] | None = None
        self._index: dict[str, dict[str, int]] | None = None

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

    def size_of(self, rel: str) -> int | None:
        """The size of one file by its relative path, or None when it is not there."""
        if self._index is None:
            index: dict[str, dict[str, int]] = {}
            for prefix, names, sizes in self.groups:
                index.setdefault(prefix, {}).update(zip(names, sizes, strict=True))
            self._index = index
        folder, _, name = rel.rpartition("/")
        return self._index.get(folder + "/" if folder else "", {}).get(name)


def _top(sizes: array, n: int) -> list[int]:
    return heapq.nlargest(n, sizes) if len(sizes) > n else list(sizes)


def walk(top: Path) -> FileTable:
    """Every regular file below ``top`` (symlinks and the top-level ``.cache`` left out).

    One process stats the first files; once a walk has met ``FORK_AFTER`` files, a single-threaded process
    forks and the two share every folder from there on."""
    folders = _folders(str(top))
    groups: list[Group] = []
    seen, asked = 0, False
    for folder, prefix, names in folders:
        seen += len(names)
        if seen >= FORK_AFTER and not asked:
            asked = True
            if _may_fork():
                groups += _shared(chain([(folder, prefix, names)], folders))
                break
        _stat_into(groups, folder, prefix, names)
    return FileTable(groups)


def _may_fork() -> bool:
    threading = sys.modules.get("threading")  # never imported: no thread was ever started
    if threading is not None and threading.active_count() > 1:
        return False  # forking a process that runs threads can leave the child on a lock it will never get
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return hasattr(os, "fork") and cores > 1


def _folders(top: str) -> Iterator[Listed]:
    """Every readable folder below ``top`` with the names of its non-folder entries, in a fixed order (a
    forked child that resumes this generator lists the same folders in the same order)."""
    stack = [(top, "")]
    while stack:
        folder, prefix = stack.pop()
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
            continue
        yield folder, prefix, names


def _stat_into(groups: list[Group], folder: str, prefix: str, names: list[str]) -> None:
    """Add the regular files among ``names`` with their sizes: one ``lstat`` each, relative to the folder."""
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
    finally:
        os.close(fd)
    if kept:
        groups.append((prefix, kept, sizes))


def _share(folders: Iterable[Listed], part: int, visited: list[Listed] | None = None) -> list[Group]:
    """This process's half: every other file in listing order, from file ``part``."""
    groups: list[Group] = []
    seen = 0
    for listed in folders:
        folder, prefix, names = listed
        _stat_into(groups, folder, prefix, names[(part - seen) % 2::2])
        seen += len(names)
        if visited is not None:
            visited.append(listed)
    return groups


def _shared(folders: Iterator[Listed]) -> list[Group]:
    """The rest of the walk split with a forked child, which sends its groups back through a pipe. If the
    child fails, this process stats the child's half too."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        groups: list[Group] = []
        for listed in folders:
            _stat_into(groups, *listed)
        return groups
    if pid == 0:  # the child: walk, write, and leave without running any of the parent's exit handlers
        code = 1
        try:
            os.close(r)
            theirs = _share(folders, 1)
            with open(w, "wb") as out:
                out.write(marshal.dumps([(p, n, s.tobytes()) for p, n, s in theirs]))
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    visited: list[Listed] = []
    done = False
    groups = []
    try:
        with open(r, "rb") as pipe:
            groups = _share(folders, 0, visited)
            data = pipe.read()
        done = True
    finally:
        if not done:
            import signal

            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        return groups + _share(visited, 1)
    for prefix, kept, raw in marshal.loads(data):
        sizes = array("q")
        sizes.frombytes(raw)
        groups.append((prefix, kept, sizes))
    return groups
