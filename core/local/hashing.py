"""Hashing files the way the Hub does: sha256 for LFS files, git's blob sha1 for the rest. Flat memory,
large reads, both cores (hashlib releases the GIL while it hashes)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

READ_SIZE = 4 << 20


def new_hasher(algorithm: str, size: int) -> Any:
    """A hashlib object for ``algorithm``; git-sha1 is seeded with git's ``blob <size>\\0`` header."""
    import hashlib  # here, like ThreadPoolExecutor below: a verify that finds every hash remembered needs neither
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "git-sha1":
        return hashlib.sha1(b"blob %d\0" % size)
    raise ValueError(f"unknown hash algorithm {algorithm!r}")


def feed_file(hasher: Any, path: Path, limit: int | None = None) -> int:
    """Feed the first ``limit`` bytes of ``path`` (all when None) to ``hasher``; returns the bytes read."""
    done = 0
    buf = bytearray(READ_SIZE)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while limit is None or done < limit:
            want = READ_SIZE if limit is None else min(READ_SIZE, limit - done)
            n = f.readinto(view[:want])
            if not n:
                break
            hasher.update(view[:n])
            done += n
    return done


def hash_file(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a whole file."""
    size = path.stat().st_size
    h = new_hasher(algorithm, size)
    feed_file(h, path)
    return h.hexdigest()


def hash_many(jobs: Iterable[tuple[Path, str]]) -> Iterator[tuple[Path, str, str | OSError]]:
    """Hash ``(path, algorithm)`` jobs on all cores; yields ``(path, algorithm, hexdigest or the OSError)`` in
    the order given. Closing the generator early cancels the jobs not yet started."""

    def one(job: tuple[Path, str]) -> tuple[Path, str, str | OSError]:
        path, algorithm = job
        try:
            return path, algorithm, hash_file(path, algorithm)
        except OSError as e:
            return path, algorithm, e

    it = iter(jobs)
    first = next(it, None)
    if first is None:  # nothing to hash (every hash remembered): no pool, no threads
        return
    from concurrent.futures import ThreadPoolExecutor
    from itertools import chain

    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    try:
        yield from pool.map(one, chain([first], it))
    finally:  # also when the caller stops early: the files not yet begun are never hashed
        pool.shutdown(wait=True, cancel_futures=True)
