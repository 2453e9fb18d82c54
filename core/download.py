"""The download engine: a bounded pool of workers fetching planned files through huggingface_hub's ``http_get``.

Each file is written to huggingface_hub's ``.incomplete`` path in the repo's local-dir metadata, hashed while
it streams, checked against the Hub's hash, and only then moved into place with its ``.metadata`` record. A
partial file survives any interruption and the next run continues it with a Range request.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from huggingface_hub import constants, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers, disable_progress_bars

from . import localstate
from .errors import describe, is_repo_level, is_transient
from .hashing import feed_file, new_hasher
from .plan import FilePlan, Plan, RepoPlan
from .settings import Settings

# http_get hands on the body in chunks of DOWNLOAD_CHUNK_SIZE (10 MB by default), so a dropped connection loses
# whatever was buffered. None makes httpx pass each network read straight through: every byte that arrived is
# written (and kept for resume) at once, and progress moves as bytes arrive.
CHUNK_SIZE = None
MAX_CORRUPT = 2
BACKOFF_START, BACKOFF_MAX = 0.5, 8.0
PROGRESS_INTERVAL = 0.1


class State(StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class FileEvent:
    """Progress of one file. ``done``/``total`` are bytes; ``rate`` is bytes a second in this run."""

    repo_id: str
    repo_type: str
    path: str
    state: State
    done: int
    total: int
    rate: float = 0.0
    message: str | None = None


class Cancelled(Exception):
    """Raised inside a worker when the run is cancelled."""


@dataclass
class RepoResult:
    repo_id: str
    repo_type: str
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.error is None


@dataclass
class RunResult:
    repos: list[RepoResult]
    bytes_fetched: int = 0
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.ok for r in self.repos)


class _Sink:
    """The file object handed to ``http_get``: writes, hashes and reports progress as bytes arrive."""

    def __init__(self, fh: BinaryIO, hasher: Any, on_bytes: Callable[[int], None], cancel: threading.Event) -> None:
        self.fh, self.hasher, self.on_bytes, self.cancel = fh, hasher, on_bytes, cancel
        self.restart: Callable[[], Any] | None = None  # a new hasher, with the byte counters back at zero

    def write(self, chunk: bytes) -> int:
        n = self.fh.write(chunk)  # keep what arrived, even when the run is being cancelled
        while n < len(chunk):  # an unbuffered file may take part of a chunk (a signal, a nearly full disk)
            n += self.fh.write(memoryview(chunk)[n:])
        self.hasher.update(chunk)
        self.on_bytes(len(chunk))
        if self.cancel.is_set():
            raise Cancelled()
        return n

    def tell(self) -> int:
        return self.fh.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.fh.seek(pos, whence)

    def truncate(self, size: int | None = None) -> int:
        """The server ignored our Range: http_get restarts the file, so the hash restarts too."""
        n = self.fh.truncate(size)
        if self.restart is not None:
            self.hasher = self.restart()
        return n


class Downloader:
    """Runs a plan. ``on_event`` is called from worker threads; it must be quick and thread-safe."""

    def __init__(self, settings: Settings, on_event: Callable[[FileEvent], None] | None = None,
                 max_workers: int = 8, cancel: threading.Event | None = None) -> None:
        self.settings = settings
        self.on_event = on_event or (lambda e: None)
        self.max_workers = max(1, max_workers)
        self.cancel = cancel or threading.Event()
        self._repo_errors: dict[tuple[str, str], str] = {}
        self._abort: str | None = None
        self._lock = threading.Lock()
        self._fetched = 0
        self._made: set[Path] = set()
        self._built_headers: dict[str, str] | None = None
        disable_progress_bars()
        constants.DOWNLOAD_CHUNK_SIZE = CHUNK_SIZE  # type: ignore[assignment]
        constants.HF_HUB_DOWNLOAD_TIMEOUT = settings.read_timeout  # type: ignore[assignment]

    # --- public -------------------------------------------------------------------------------
    def run(self, plan: Plan) -> RunResult:
        """Fetch every pending file of every available repo; returns per-repo results."""
        results = {(r.ref.repo_type, r.ref.repo_id): RepoResult(r.ref.repo_id, r.ref.repo_type) for r in plan.repos}
        tasks: list[tuple[RepoPlan, FilePlan]] = []
        for rp in plan.repos:
            res = results[(rp.ref.repo_type, rp.ref.repo_id)]
            if not rp.ok:
                res.error = rp.message or rp.status
                continue
            res.failed.extend((p, f"skipped: unsafe name ({why})") for p, why in rp.unsafe.items())
            res.skipped += len(rp.files) - len(rp.pending)
            if rp.listing is not None:
                localstate.write_record(rp.local_dir, localstate.Record(
                    rp.listing, rp.include, rp.exclude, tuple(f.remote.path for f in rp.files), rp.profile))
            for fp in rp.pending:
                tasks.append((rp, fp))
                self._emit(rp, fp, State.QUEUED, fp.present)
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="download")
        futures = {pool.submit(self._fetch_one, rp, fp): (rp, fp) for rp, fp in tasks}
        left = [len(futures)]
        all_done = threading.Event()

        def one_done(_: Future[tuple[State, str | None]]) -> None:
            with self._lock:
                left[0] -= 1
                if left[0] == 0:
                    all_done.set()

        for fut in futures:  # one callback each: concurrent.futures.wait() in a loop locks every pending future
            fut.add_done_callback(one_done)  # on every call, which cost more than the downloads of small files
        if not futures:
            all_done.set()
        try:
            while not all_done.wait(0.2):  # wakes up for Ctrl-C
                pass
        except KeyboardInterrupt:
            self.cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for fut, (rp, fp) in futures.items():
            res = results[(rp.ref.repo_type, rp.ref.repo_id)]
            if fut.cancelled():
                continue
            state, message = fut.result()
            if state is State.DONE:
                res.done += 1
            elif state is State.SKIPPED:
                res.skipped += 1
            elif state is State.FAILED and message is not None:
                key = (rp.ref.repo_type, rp.ref.repo_id)
                if key in self._repo_errors:
                    res.error = self._repo_errors[key]
                else:
                    res.failed.append((fp.remote.path, message))
        return RunResult(list(results.values()), self._fetched, self.cancel.is_set())

    # --- one file -----------------------------------------------------------------------------
    def _emit(self, rp: RepoPlan, fp: FilePlan, state: State, done: int, rate: float = 0.0,
              message: str | None = None) -> None:
        self.on_event(FileEvent(rp.ref.repo_id, rp.ref.repo_type, fp.remote.path, state, done, fp.remote.size,
                                rate, message))

    def _fetch_one(self, rp: RepoPlan, fp: FilePlan) -> tuple[State, str | None]:
        key = (rp.ref.repo_type, rp.ref.repo_id)
        try:
            if self.cancel.is_set():
                return State.QUEUED, None
            if key in self._repo_errors or self._abort:
                msg = self._repo_errors.get(key) or self._abort
                self._emit(rp, fp, State.FAILED, fp.present, message=msg)
                return State.FAILED, msg
            return self._fetch(rp, fp)
        except Cancelled:
            return State.QUEUED, None
        except Exception as e:
            msg = describe(e, token=self.settings.token)
            if is_repo_level(e):
                with self._lock:
                    self._repo_errors.setdefault(key, msg)
            elif isinstance(e, OSError) and e.errno == errno.ENOSPC:
                from .plan import free_space
                from .sizes import human

                msg = (f"disk full at {self.settings.root} ({human(free_space(self.settings.root))} free): "
                       "free some space and run again; partial files are kept")
                self._abort = msg
            self._emit(rp, fp, State.FAILED, 0, message=msg)
            return State.FAILED, msg

    def _fetch(self, rp: RepoPlan, fp: FilePlan) -> tuple[State, str | None]:
        remote = fp.remote
        assert rp.listing is not None
        commit = rp.listing.commit
        paths = localstate.download_paths(rp.local_dir, remote.path)
        self._mkdir(paths.file_path.parent)
        self._mkdir(paths.metadata_path.parent)
        if fp.action == "check":
            self._emit(rp, fp, State.VERIFYING, 0)
            h = new_hasher(remote.algorithm, remote.size)
            feed_file(h, paths.file_path)
            if h.hexdigest() == remote.etag:
                localstate.write_metadata(paths, commit, remote.etag)
                self._emit(rp, fp, State.SKIPPED, remote.size)
                return State.SKIPPED, None
        incomplete = paths.incomplete_path(remote.etag)
        url = hf_hub_url(rp.ref.repo_id, remote.path, repo_type=rp.ref.repo_type, revision=commit,
                         endpoint=self.settings.endpoint)
        headers = self._headers()
        corrupt = 0
        delay = BACKOFF_START
        last_error: BaseException | None = None
        for _attempt in range(self.settings.retries):
            try:
                digest = self._stream(rp, fp, url, headers, incomplete)
            except Cancelled:
                raise
            except Exception as e:
                if not is_transient(e):
                    raise
                last_error = e
                self._emit(rp, fp, State.DOWNLOADING, localstate.partial_size(paths, remote.etag),
                           message=f"retrying: {describe(e, token=self.settings.token)}")
                self._sleep(_retry_after(e) or delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            if digest != remote.etag:
                corrupt += 1
                incomplete.unlink(missing_ok=True)
                if corrupt >= MAX_CORRUPT:
                    msg = (f"{remote.algorithm} mismatch: the Hub says {remote.etag[:12]}…, "
                           f"{corrupt} downloads gave {digest[:12]}… (nothing kept)")
                    self._emit(rp, fp, State.FAILED, 0, message=msg)
                    return State.FAILED, msg
                self._emit(rp, fp, State.DOWNLOADING, 0, message=f"{remote.algorithm} mismatch, downloading again")
                continue
            os.replace(incomplete, paths.file_path)
            localstate.write_metadata(paths, commit, remote.etag)
            self._emit(rp, fp, State.DONE, remote.size)
            return State.DONE, None
        msg = f"gave up after {self.settings.retries} attempts: {describe(last_error, token=self.settings.token)}" \
            if last_error else "gave up"
        self._emit(rp, fp, State.FAILED, localstate.partial_size(paths, remote.etag), message=msg)
        return State.FAILED, msg

    def _stream(self, rp: RepoPlan, fp: FilePlan, url: str, headers: dict[str, str], incomplete: Any) -> str:
        """One attempt: resume the partial with http_get, hashing as it goes; returns the hex digest."""
        remote = fp.remote
        try:
            resume = incomplete.stat().st_size
        except FileNotFoundError:
            resume = 0
        if resume > remote.size:
            incomplete.unlink()
            resume = 0
        hasher = new_hasher(remote.algorithm, remote.size)
        if resume:
            feed_file(hasher, incomplete, resume)
        started, done = time.monotonic(), resume
        last = 0.0

        def on_bytes(n: int) -> None:
            nonlocal done, last
            done += n
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL:
                last = now
                rate = (done - resume) / max(now - started, 1e-6)
                self._emit(rp, fp, State.DOWNLOADING, done, rate)

        def restart() -> Any:
            """The server ignored our Range and sends the whole file: http_get empties the partial."""
            nonlocal done, resume
            done = resume = 0
            return new_hasher(remote.algorithm, remote.size)

        self._emit(rp, fp, State.DOWNLOADING, resume)
        try:
            with open(incomplete, "ab", buffering=0) as fh:  # unbuffered: each network read is one write
                sink = _Sink(fh, hasher, on_bytes, self.cancel)
                sink.restart = restart
                http_get(url, sink, resume_size=resume, headers=headers,  # type: ignore[arg-type]
                         expected_size=remote.size, displayed_filename=remote.path)
        finally:
            with self._lock:  # once per attempt, not per chunk: the byte counter stays off the hot path
                self._fetched += done - resume
        self._emit(rp, fp, State.VERIFYING, remote.size)
        return str(sink.hasher.hexdigest())

    def _mkdir(self, folder: Path) -> None:
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)

    def _headers(self) -> dict[str, str]:
        """The request headers, built once a run: huggingface_hub reads the token file on every build."""
        if self._built_headers is None:
            self._built_headers = build_hf_headers(token=self.settings.token, library_name="musicgen-tui")
        return self._built_headers

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise Cancelled()


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        value = exc.response.headers.get("Retry-After", "")
        if value.isdigit():
            return min(float(value), 60.0)
    return None
