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

from ..catalog import load_catalog
from ..errors import cannot_write
from ..local import checksums, inventory
from ..local.lock import root_lock
from ..local.verify import FileCheck, Queued, verify, write_report
from ..repos import RepoRef
from ..runtime.views import refresh_views
from ..sources import sources_or_builtin
from ..workspace.lockfile import LOCK_NAME, locked_repos, write_lock
from ..workspace.pruning import prune
from ..workspace.removal import remove
from .events import ChecksMade, Chore, Cleaned, ExportDone, FilesQueued, Verified, Working
from .requests import Export, Prune, Remove, Verify

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
    """Scan once (not at all for the views alone: ``env`` never walks a 300,000-file root); write what was asked.
    A root that cannot be written gets nothing written, and says why."""
    scan = request.inventories or request.checksums
    repos = inventory.scan(root) if scan else []
    docs = inventory.build(repos) if scan else {"combined": {}}
    written: dict[str, str] = {}
    sums: list[dict[str, Any]] = []
    unwritable = views = lock = ""
    lock_problems: list[FileCheck] = []
    try:
        if request.lock:
            lock, lock_problems = _write_lock(root)
        if request.views:
            views = refresh_views(root).summary()
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
    return ExportDone(written, sums, rows, docs["combined"], unwritable, views, lock, lock_problems)


def _write_lock(root: Path) -> tuple[str, list[FileCheck]]:
    """``ROOT/musicgen.lock`` from the root as verified now; none, and the problems, when it has any."""
    problems = do_verify(root, Verify()).result.problems
    if problems:
        return "", problems
    path = root / LOCK_NAME
    write_lock(path, locked_repos(root))
    return str(path), []


def stream_verify(root: Path, request: Verify, send: Callable[[Chore], None],
                  cancel: threading.Event) -> Verified:
    """A verify for a client: its queued files and checks batched every SEND_EVERY seconds through ``send`` (at
    least one line a second keeps the client's read alive), then its end."""
    queued: list[Queued] = []
    checks: list[FileCheck] = []
    lock, sending = threading.Lock(), threading.Lock()
    last = time.monotonic()

    def flush(force: bool = False) -> None:
        nonlocal last
        now = time.monotonic()
        if not force and now - last < SEND_EVERY:
            return
        with sending:  # the verify's thread and the heartbeat's: one line at a time on the socket
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

    try:
        with heartbeat(lambda: flush(force=True)):  # a long hash of one big file still sends a line a second
            return do_verify(root, request, on_queued=on_queued, on_check=on_check, cancel=cancel)
    finally:
        flush(force=True)


def stream_export(root: Path, request: Export, checksum_min: int, send: Callable[[Chore], None]) -> ExportDone:
    """An export for a client: a ``working`` line a second while it hashes, then its end."""
    def beat() -> None:
        with contextlib.suppress(OSError):  # the client went: the export still ends, its files written
            send(Working())

    with heartbeat(beat):
        return do_export(root, request, checksum_min)


@contextlib.contextmanager
def heartbeat(beat: Callable[[], None], every: float = 1.0) -> Iterator[None]:
    """``beat()`` every ``every`` seconds on a thread of its own while the block runs: a client reading a long
    chore with a timeout hears it is alive."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every):
            beat()

    thread = threading.Thread(target=run, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


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


def do_clean(root: Path, request: Remove | Prune, catalog_file: str | None = None,
             in_use: set[tuple[str, str]] | None = None) -> Cleaned:
    """A remove or a prune, by the root's one writer. ``in_use``: ``(repo_type, repo_id)`` of the repos a
    running download holds (a remove of one is refused by the caller; a prune leaves their folders alone)."""
    in_use = in_use or set()
    if isinstance(request, Prune):
        folders = {(t, RepoRef(t, i).relpath()) for t, i in in_use}  # type: ignore[arg-type]
        found = prune(root, folders, dry_run=request.dry_run)
        return Cleaned("prune", [p.data() for p in found], sum(p.bytes for p in found), request.dry_run)
    catalog = load_catalog(root)
    rows = remove(root, [catalog.canonical(r) for r in request.repos], catalog, sources_or_builtin(catalog_file),
                  dry_run=request.dry_run)
    return Cleaned("remove", [r.data() for r in rows], sum(r.bytes_freed for r in rows if r.removed or
                                                          (request.dry_run and not r.reason)), request.dry_run)


def stream_clean(root: Path, request: Remove | Prune, send: Callable[[Chore], None], catalog_file: str | None,
                 in_use: set[tuple[str, str]]) -> Cleaned:
    """A remove or prune for a client: a ``working`` line a second while it walks, then its end."""
    def beat() -> None:
        with contextlib.suppress(OSError):
            send(Working())

    with heartbeat(beat):
        return do_clean(root, request, catalog_file, in_use)
