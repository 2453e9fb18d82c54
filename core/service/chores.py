"""The root's chores besides downloads, done by whoever is its one writer: verify (its hash caches and report)
and export (the inventories and checksum files). The service runs them for its clients, streaming a verify's
progress; a command with no service runs them itself under the root's lock (``locally``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import cannot_write
from ..local import checksums, inventory
from ..local.lock import root_lock
from ..local.verify import FileCheck, Queued, verify, write_report
from .events import ChecksMade, Chore, ExportDone, FilesQueued, Verified
from .requests import Export, Verify

SEND_EVERY = 0.2  # seconds between two progress lines of a verify


def do_verify(root: Path, request: Verify, *, on_queued: Callable[[list[Queued]], object] | None = None,
              on_check: Callable[[FileCheck], object] | None = None,
              cancel: threading.Event | None = None) -> Verified:
    """Verify and write the report (a root that cannot be written is verified as it is, and no report written)."""
    result = verify(root, list(request.repos) or None, on_check=on_check, on_queued=on_queued, full=request.full,
                    cancel=cancel)
    if cancel is not None and cancel.is_set():
        return Verified(result, None)  # stopped half-way: a report of part of the files would pass for the whole
    try:
        report: str | None = str(write_report(root, result))
    except OSError as e:
        if not cannot_write(e):
            raise
        report = None
    return Verified(result, report)


def do_export(root: Path, request: Export, checksum_min: int) -> ExportDone:
    """Scan once; write what was asked. A root that cannot be written gets nothing written, and says why."""
    repos = inventory.scan(root)
    docs = inventory.build(repos)
    written: dict[str, str] = {}
    sums: list[dict[str, Any]] = []
    unwritable = ""
    try:
        if request.inventories:
            written = {k: str(p) for k, p in inventory.write(root, docs=docs).items()}
        if request.checksums:
            minimum = checksum_min if request.checksum_min is None else request.checksum_min
            sums = [{"path": str(c.path), "entries": c.entries, "bytes": c.bytes}
                    for c in checksums.write_checksums(root, minimum, repos=repos)]
    except OSError as e:
        if not cannot_write(e):
            raise
        unwritable = e.strerror or str(e)
    rows = [{"repo_id": r.repo_id, "repo_type": r.repo_type, "file_count": r.file_count, "size_bytes": r.size_bytes,
             "snapshot_id": r.snapshot_id, "complete": r.complete, "path": r.path} for r in repos]
    return ExportDone(written, sums, rows, docs["combined"], unwritable)


def stream_verify(root: Path, request: Verify, send: Callable[[Chore], None],
                  cancel: threading.Event) -> Verified:
    """A verify for a client: its queued files and checks batched every SEND_EVERY seconds through ``send`` (at
    least one line a second keeps the client's read alive), then its end."""
    queued: list[Queued] = []
    checks: list[FileCheck] = []
    lock = threading.Lock()
    last = time.monotonic()

    def flush(force: bool = False) -> None:
        nonlocal last
        now = time.monotonic()
        if not force and now - last < SEND_EVERY:
            return
        with lock:
            q, c = queued[:], checks[:]
            queued.clear()
            checks.clear()
            last = now
        try:
            if q:
                send(FilesQueued(q))
            if c or force:
                send(ChecksMade(c))
        except OSError:
            cancel.set()  # the client went: the verify stops at its next file

    def on_queued(files: list[Queued]) -> None:
        with lock:
            queued.extend(files)
        flush()

    def on_check(c: FileCheck) -> None:
        with lock:
            checks.append(c)
        flush()

    ticker = threading.Event()

    def tick() -> None:  # a long hash of one big file still sends a line a second
        while not ticker.wait(1.0):
            flush(force=True)

    t = threading.Thread(target=tick, name="verify-tick", daemon=True)
    t.start()
    try:
        return do_verify(root, request, on_queued=on_queued, on_check=on_check, cancel=cancel)
    finally:
        ticker.set()
        t.join()
        flush(force=True)


@contextlib.contextmanager
def locally(root: Path) -> Iterator[None]:
    """A chore of a command with no service: under the root's lock (``LockHeld`` when a download holds it); a
    root that cannot be written (no lock file can be made) is read as it is, nothing written to it anyway."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(root_lock(root))
        except OSError as e:
            if not cannot_write(e):
                raise
        yield
