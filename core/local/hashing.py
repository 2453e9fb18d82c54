"""Hashing files the way the Hub does: sha256 for LFS files, git's blob sha1 for the rest. Flat memory (one
reused buffer per thread), both cores.

On small files the floor is ``open``/``read``/``close``, not the hash, and every system call hands the GIL
over, so threads barely help: a process without threads forks once and the two processes each take half the
bytes (as ``sha256sum`` run over two halves would). A process that runs threads (the app) hashes on a thread
pool instead, and can report each file as it is done.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from .forked import Forked

READ_SIZE = 4 << 20
SMALL = 256 << 10  # files read whole, in one call
FORK_AFTER = 256  # files worth a second process (a fork costs about a millisecond)
ROUND = 8192  # files handed to hash_many at a time by verify and checksums: what waits to be hashed stays bounded
Job = tuple[str, str, int]  # (path, algorithm, expected size: only balances the work)
Digest = str | OSError

_local = threading.local()


def new_hasher(algorithm: str, size: int) -> Any:
    """A hashlib object for ``algorithm``; git-sha1 is seeded with git's ``blob <size>\\0`` header."""
    global _hashlib
    if _hashlib is None:  # imported on first use: a verify that finds every hash remembered never needs it
        import hashlib
        _hashlib = hashlib
    if algorithm == "sha256":
        return _hashlib.sha256()
    if algorithm == "git-sha1":
        return _hashlib.sha1(b"blob %d\0" % size)
    if algorithm in ("sha1", "md5"):  # what off-Hub publishers give (FMA's README, Zenodo's API, GCS's header)
        return _hashlib.new(algorithm, usedforsecurity=False)
    raise ValueError(f"unknown hash algorithm {algorithm!r}")


_hashlib: Any = None


def _buffer() -> memoryview:
    """This thread's read buffer, allocated once (a new 4 MiB buffer per file cost more than hashing it)."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(READ_SIZE))
    return view


def _feed_fd(hasher: Any, fd: int, limit: int | None) -> int:
    view, done = _buffer(), 0
    while limit is None or done < limit:
        want = READ_SIZE if limit is None else min(READ_SIZE, limit - done)
        n = os.readv(fd, [view[:want]])
        if not n:
            break
        hasher.update(view[:n])
        done += n
    return done


def feed_file(hasher: Any, path: os.PathLike[str] | str, limit: int | None = None) -> int:
    """Feed the first ``limit`` bytes of ``path`` (all when None) to ``hasher``; returns the bytes read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _feed_fd(hasher, fd, limit)
    finally:
        os.close(fd)


def hash_file(path: os.PathLike[str] | str, algorithm: str = "sha256", size: int = -1,
              dir_fd: int | None = None) -> str:
    """The hex digest of a whole file (``path`` relative to ``dir_fd`` when given). Given the ``size`` it should
    have, a small file takes one ``open``, one ``read`` and ``close`` (the size is only a hint: a file that
    turns out longer is read on to its end)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if 0 <= size < SMALL:
            data = os.read(fd, size + 1)
            if len(data) <= size:  # the whole file (a shorter one too: its own length goes in git's header)
                h = new_hasher(algorithm, len(data))
                h.update(data)
                return str(h.hexdigest())
        h = new_hasher(algorithm, os.fstat(fd).st_size)
        os.lseek(fd, 0, os.SEEK_SET)
        _feed_fd(h, fd, None)
    finally:
        os.close(fd)
    return str(h.hexdigest())


def _one(job: Job) -> Digest:
    try:
        return hash_file(job[0], job[1], job[2])
    except OSError as e:
        return e


def hash_many(jobs: Sequence[Job], cancel: threading.Event | None = None) -> Generator[tuple[int, Digest]]:
    """Hash every job on all cores; yields ``(index in jobs, hexdigest or the OSError)``, in no fixed order.
    Setting ``cancel`` or closing the generator stops the work not yet begun."""
    if not jobs:
        return
    if len(jobs) >= FORK_AFTER and _may_fork():
        yield from _forked(jobs, cancel)
    else:
        yield from _threaded(jobs, cancel)


def _may_fork() -> bool:
    from .walk import may_fork
    return may_fork()


def _halves(jobs: Sequence[Job]) -> tuple[list[int], list[int]]:
    """Job indexes split into two halves of about the same bytes (each file to the lighter half, in order)."""
    halves: tuple[list[int], list[int]] = ([], [])
    weight = [0, 0]
    for i, job in enumerate(jobs):
        k = 0 if weight[0] <= weight[1] else 1
        halves[k].append(i)
        weight[k] += job[2] + 4096  # a file costs its open and close too
    return halves


def _forked(jobs: Sequence[Job], cancel: threading.Event | None) -> Iterator[tuple[int, Digest]]:
    mine, theirs = _halves(jobs)
    child = Forked.start(lambda: [d if isinstance(d, str) else (d.errno, d.strerror)
                                  for d in (_one(jobs[i]) for i in theirs)])
    if child is None:
        yield from _threaded(jobs, cancel)
        return
    try:
        for i in mine:
            if cancel is not None and cancel.is_set():
                return
            yield i, _one(jobs[i])
        got = child.result()
    finally:  # cancelled or closed early: the child's half is dropped
        child.stop()
    if not isinstance(got, list) or len(got) != len(theirs):  # the child failed: its half here, on threads
        yield from ((theirs[k], d) for k, d in _threaded([jobs[i] for i in theirs], cancel))
        return
    for i, d in zip(theirs, got, strict=True):
        yield i, d if isinstance(d, str) else OSError(d[0], d[1])


BATCH = 32  # small files per task: a future per file cost more than opening it


def _threaded(jobs: Sequence[Job], cancel: threading.Event | None) -> Iterator[tuple[int, Digest]]:
    from concurrent.futures import ThreadPoolExecutor

    def batch(start: int, stop: int) -> list[tuple[int, Digest]]:
        out: list[tuple[int, Digest]] = []
        for i in range(start, stop):
            if cancel is not None and cancel.is_set():
                break
            out.append((i, _one(jobs[i])))
        return out

    bounds, start, weight = [], 0, 0
    for i, job in enumerate(jobs):  # a batch ends after 32 files or 4 MiB, so large files spread over the pool
        weight += job[2]
        if i + 1 - start >= BATCH or weight >= READ_SIZE:
            bounds.append((start, i + 1))
            start, weight = i + 1, 0
    if start < len(jobs):
        bounds.append((start, len(jobs)))
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    try:
        for done in pool.map(lambda b: batch(*b), bounds):
            yield from done
            if cancel is not None and cancel.is_set():
                return
    finally:  # also when the caller stops early: the batches not yet begun are never hashed
        pool.shutdown(wait=True, cancel_futures=True)
