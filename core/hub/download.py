"""The download engine: a bounded pool of workers fetching a plan's files through huggingface_hub's ``http_get``.

Each file is written to huggingface_hub's ``.incomplete`` path in the repo's local-dir metadata, hashed while
it streams (``transfer.Attempt``), checked against the Hub's hash, and only then moved into place with its
``.metadata`` record. A partial file survives any interruption and the next run continues it with a Range request.
"""

from __future__ import annotations

import errno
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from huggingface_hub import constants, hf_hub_url
from huggingface_hub.utils import build_hf_headers, disable_progress_bars

from ..local import metadata
from ..local.hashing import feed_file, new_hasher
from ..local.partials import drop_segmented, exact_size, segmented_paths, to_single
from ..local.record import Record, write_record
from ..local.safeio import make_dirs
from ..local.space import free_space
from ..local.updates import finish_updates, update_of
from ..plan import FilePlan, Plan, RepoPlan
from ..remote import Paths, proves, shown_hash
from ..results import FileEvent, RepoResult, RunResult
from ..runtime.views import after_run
from ..settings import Settings
from ..sizes import human
from ..states import FileState
from .arrival import Arrivals, keep_origin
from .backoff import Backoff, Cancelled, FileStop
from .errors import describe, is_repo_level, is_transient
from .segments import RangeIgnored, SegmentedAttempt
from .steering import Key, RunQueue, Steering
from .throttle import Throttle
from .transfer import CHUNK_SIZE, Attempt

MAX_CORRUPT = 2
CANCELLED = "cancelled: what arrived is kept, and the next download resumes it"
PAUSED = "paused: what arrived is kept; resume goes on from it"
PLAIN_HEADERS = {"user-agent": "musicgen-tui"}  # a publisher's host gets no Authorization: the token is the Hub's
Outcome = tuple[FileState, str | None]  # how a file ended, and why when it failed


class Downloader:
    """Runs a plan. ``on_event`` is called from worker threads; it must be quick and thread-safe. Setting
    ``cancel`` stops the run; what arrived is kept for the next one."""

    def __init__(self, settings: Settings, on_event: Callable[[FileEvent], None] | None = None,
                 max_workers: int = 8, cancel: threading.Event | None = None, connections: int | None = None,
                 steering: Steering | None = None, drop_archives: bool = False) -> None:
        self.settings = settings
        self.steering = steering or Steering(Throttle(settings.max_rate))  # the cap, pauses and order it obeys
        self.cancel = cancel or threading.Event()
        self._queue = RunQueue([], self.steering, self.cancel)
        self.connections = max(1, settings.connections if connections is None else connections)
        # The connections of a run: one per file worker, and CONNECTIONS - 1 more in all for big files' ranges.
        self._slots = threading.Semaphore(self.connections - 1)
        self.on_event = on_event or (lambda e: None)
        self.max_workers = max(1, max_workers)
        self._repo_errors: dict[tuple[str, str], str] = {}
        self._abort: str | None = None
        self._lock = threading.Lock()
        self._fetched = 0
        self._by_repo: Counter[Key] = Counter()  # bytes fetched per repo
        self._arrivals = Arrivals(settings, self._emit, drop_archives=drop_archives)  # after a proven off-Hub part
        self._made: set[Path] = set()
        self._updates: dict[Key, RepoPlan] = {}  # repos updated to a new commit in this run
        self.planned: set[Key] = set()  # the repos of the run (a remove of one is refused while it runs)
        self._dropped: set[tuple[str, str, str | None]] = set()  # repos (path None) and files cancelled alone
        self._inflight: dict[tuple[str, str, str], FileStop] = {}
        # huggingface_hub reads the token file on every header build: once a run is enough
        self._headers = build_hf_headers(token=settings.token, library_name="musicgen-tui")
        disable_progress_bars()
        constants.DOWNLOAD_CHUNK_SIZE = CHUNK_SIZE  # type: ignore[assignment]
        constants.HF_HUB_DOWNLOAD_TIMEOUT = settings.read_timeout  # type: ignore[assignment]
        # http_get refuses a fresh download over 50 GB before asking the server (such files are stored with Xet on
        # the Hub), yet lets a resumed one through. Whether the server serves the file is its answer to give: the
        # guard is lifted, and a server that refuses fails that one file with its own message, no byte fetched.
        constants.MAX_HTTP_DOWNLOAD_SIZE = 1 << 62

    def run(self, plan: Plan) -> RunResult:
        """Fetch every pending file of every available repo; returns per-repo results.

        ``max_workers`` threads take the files in turn from one queue and tally each outcome as it ends: no
        future or result is held per file, so memory stays flat at 300,000 files."""
        results = {(r.ref.repo_type, r.ref.repo_id): RepoResult(r.ref.repo_id, r.ref.repo_type) for r in plan.repos}
        self.planned = set(results)
        queue = self._queue = RunQueue([(rp, self._prepare(rp, results[(rp.ref.repo_type, rp.ref.repo_id)]))
                                        for rp in plan.repos], self.steering, self.cancel)
        crashed: list[BaseException] = []

        def work() -> None:
            try:
                while not self.cancel.is_set():
                    task = queue.take()
                    if task is None:
                        return
                    rp, fp = task
                    outcome = self._fetch_one(rp, fp)
                    if outcome[0] is FileState.PAUSED:
                        queue.park(rp, fp)
                        continue
                    with self._lock:
                        self._tally(results[(rp.ref.repo_type, rp.ref.repo_id)], rp, fp, outcome)
            except BaseException as e:  # a bug, not a download error (those are outcomes): stop everything
                crashed.append(e)
                self.cancel.set()

        unlisten = self.steering.listen(self._steered)
        threads = [threading.Thread(target=work, name=f"download_{i}", daemon=True) for i in range(self.max_workers)]
        queue.workers = len(threads)
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # wakes up for Ctrl-C
        except KeyboardInterrupt:
            self.cancel.set()
            for t in threads:
                t.join()
            raise
        finally:
            unlisten()
        if crashed:
            raise crashed[0]
        if self.cancel.is_set():  # the files never started say so too: no row is left queued or in flight
            for rp, fp in queue.left():
                self._emit(rp, fp, FileState.CANCELLED, fp.present, message=CANCELLED)
                results[(rp.ref.repo_type, rp.ref.repo_id)].cancelled += 1
        self._arrivals.pin_all()  # the records (verify's reference, the next plan's) hold what was pinned
        for key, res in results.items():
            res.bytes_fetched = self._by_repo[key]
        if not self.cancel.is_set():  # an update whose repo is whole at its new commit ends
            finish_updates(self.settings.root, [(results[(rp.ref.repo_type, rp.ref.repo_id)], rp)
                                                for rp in self._updates.values()])
        views = after_run(self.settings.root, [rp.local_dir for rp in plan.repos if rp.ok])  # the loaders' views
        return RunResult(list(results.values()), self._fetched, self.cancel.is_set(), notes=views)

    @property
    def held(self) -> bool:
        """The run waits on paused files only: nothing in flight (the service may start its next job)."""
        return self._queue.held

    def _steered(self, kind: str, key: Key | None) -> None:
        """A pause stops the paused files in flight (each is parked, its bytes kept) and says the waiting ones are
        paused; a resume says they are queued again, before any is taken; any change wakes the waiting workers."""
        queue = self._queue
        if kind == "changed":
            queue.wake()
            return
        if kind == "paused":
            with self._lock:
                for (t, i, _p), stop in self._inflight.items():
                    if key in (None, (t, i)):
                        stop.set()
        paused = kind == "paused"
        for rp, fp in queue.waiting(key):
            if paused or not self.steering.paused_all or key is None:
                self._emit(rp, fp, FileState.PAUSED if paused else FileState.QUEUED, fp.present,
                           message=PAUSED if paused else None)

    def drop(self, repo_type: str, repo_id: str, path: str | None = None) -> None:
        """Cancel one repo's files (``path`` None) or one file, and nothing else: a queued file is not started, one
        in flight stops at its next read; each ends cancelled, its partial file kept for resume."""
        with self._lock:
            self._dropped.add((repo_type, repo_id, path))
            for (t, i, p), stop in self._inflight.items():
                if (t, i) == (repo_type, repo_id) and path in (None, p):
                    stop.set()

    def _is_dropped(self, repo_type: str, repo_id: str, path: str) -> bool:
        dropped = self._dropped
        return bool(dropped) and ((repo_type, repo_id, None) in dropped or (repo_type, repo_id, path) in dropped)

    def _prepare(self, rp: RepoPlan, res: RepoResult) -> Iterator[FilePlan]:
        """Record the repo's listing and queue its pending files; a repo that failed to plan only reports. The
        files are made from the packed plan as they are reached, here and again as the workers take them."""
        if not rp.ok:
            res.error = rp.message or rp.status
            return iter(())
        res.failed.extend((p, f"skipped: name not supported ({why})") for p, why in rp.unsafe.items())
        res.skipped += len(rp.files) - rp.pending_count
        try:
            self._mkdir(metadata.hf_dir(rp.local_dir))
        except OSError as e:  # a planted symlink on the way to the repo's folder: the repo is not written
            res.error = self._describe(e)
            return iter(())
        if rp.listing is not None:  # a Hub repo at a new commit: an update, marked until it is whole
            update = update_of(rp.local_dir, rp.listing) if rp.urls is None else None
            if update is not None:
                self._updates[(rp.ref.repo_type, rp.ref.repo_id)] = rp
            write_record(rp.local_dir, Record(rp.listing, rp.include, rp.exclude, Paths(rp.files.remote),
                                              rp.profile, update))
        if rp.origin is not None:
            keep_origin(rp, rp.origin)
        paused = self.steering.is_paused((rp.ref.repo_type, rp.ref.repo_id))  # a pause kept from an earlier service
        for fp in rp.pending_files():
            self._emit(rp, fp, *((FileState.PAUSED, fp.present, 0.0, PAUSED) if paused else (FileState.QUEUED,
                                                                                              fp.present)))
        return rp.pending_files()

    def _tally(self, res: RepoResult, rp: RepoPlan, fp: FilePlan, outcome: Outcome) -> None:
        state, message = outcome
        if state is FileState.DONE:
            res.done += 1
        elif state is FileState.SKIPPED:
            res.skipped += 1
        elif state is FileState.CANCELLED:
            res.cancelled += 1
        elif state is FileState.FAILED and message is not None:
            key = (rp.ref.repo_type, rp.ref.repo_id)
            if key in self._repo_errors:
                res.error = self._repo_errors[key]
            else:
                res.failed.append((fp.remote.path, message))

    # --- one file -----------------------------------------------------------------------------
    def _emit(self, rp: RepoPlan, fp: FilePlan, state: FileState, done: int, rate: float = 0.0,
              message: str | None = None, connections: int = 0) -> None:
        self.on_event(FileEvent(rp.ref.repo_id, rp.ref.repo_type, fp.remote.path, state, done, fp.remote.size,
                                rate, message, connections))

    def _progress(self, rp: RepoPlan, fp: FilePlan, note: str | None) -> Callable[..., None]:
        """One attempt's progress callback, ``(done, rate[, connections])``: on a retry each event says why."""
        def report(done: int, rate: float, connections: int = 0) -> None:
            self._emit(rp, fp, FileState.DOWNLOADING, done, rate, note, connections)

        return report

    def _fetch_one(self, rp: RepoPlan, fp: FilePlan) -> Outcome:
        """Fetch one file; every error becomes its outcome (a repo-level one stops the repo's other files)."""
        key = (rp.ref.repo_type, rp.ref.repo_id)
        try:
            if self.cancel.is_set() or self._is_dropped(*key, fp.remote.path):
                return self._cancelled(rp, fp)
            if key in self._repo_errors or self._abort:
                msg = self._repo_errors.get(key) or self._abort
                self._emit(rp, fp, FileState.FAILED, fp.present, message=msg)
                return FileState.FAILED, msg
            return self._fetch(rp, fp)
        except Cancelled:
            if not self.cancel.is_set() and not self._is_dropped(*key, fp.remote.path) and self.steering.is_paused(key):
                return self._paused(rp, fp)
            return self._cancelled(rp, fp)
        except Exception as e:
            msg = self._describe(e)
            if is_repo_level(e, self.settings.endpoint):
                with self._lock:
                    self._repo_errors.setdefault(key, msg)
            elif isinstance(e, OSError) and e.errno == errno.ENOSPC:
                msg = (f"disk full at {self.settings.root} ({human(free_space(self.settings.root))} free): "
                       "free some space and run again; partial files are kept")
                self._abort = msg
            self._emit(rp, fp, FileState.FAILED, 0, message=msg)
            return FileState.FAILED, msg

    def _cancelled(self, rp: RepoPlan, fp: FilePlan) -> Outcome:
        """A file stopped by a cancel (its run's, its repo's or its own): what arrived is kept, and said."""
        paths = metadata.download_paths(rp.local_dir, fp.remote.path)
        kept = metadata.partial_size(paths, fp.remote.etag, fp.remote.size)
        self._emit(rp, fp, FileState.CANCELLED, max(fp.present, kept), message=CANCELLED)
        return FileState.CANCELLED, CANCELLED

    def _paused(self, rp: RepoPlan, fp: FilePlan) -> Outcome:
        """A file a pause stopped in flight: parked with what arrived, its connection closed."""
        paths = metadata.download_paths(rp.local_dir, fp.remote.path)
        kept = metadata.partial_size(paths, fp.remote.etag, fp.remote.size)
        self._emit(rp, fp, FileState.PAUSED, max(fp.present, kept), message=PAUSED)
        return FileState.PAUSED, PAUSED

    def _fetch(self, rp: RepoPlan, fp: FilePlan) -> Outcome:
        key = (rp.ref.repo_type, rp.ref.repo_id, fp.remote.path)
        stop = FileStop(self.cancel)
        with self._lock:
            self._inflight[key] = stop
            if self._is_dropped(*key):
                stop.set()
        try:
            return self._fetch_file(rp, fp, stop)
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def _fetch_file(self, rp: RepoPlan, fp: FilePlan, stop: FileStop) -> Outcome:
        remote = fp.remote
        assert rp.listing is not None
        commit = rp.listing.commit
        paths = metadata.download_paths(rp.local_dir, remote.path)
        self._mkdir(paths.file_path.parent)
        self._mkdir(paths.metadata_path.parent)
        if (fp.action == "check" and self._adopt(rp, fp, paths, commit)) or \
                (rp.urls is not None and self._arrivals.here(paths, remote)):  # a part whose extraction was cut off
            return self._arrivals.arrived(rp, fp, FileState.SKIPPED, stop)
        incomplete = paths.incomplete_path(remote.etag)
        if rp.urls is not None:  # an off-Hub part: its publisher's URL, and never the Hub's token
            url, headers = rp.urls[remote.path], PLAIN_HEADERS
        else:
            url = hf_hub_url(rp.ref.repo_id, remote.path, repo_type=rp.ref.repo_type, revision=commit,
                             endpoint=self.settings.endpoint)
            headers = self._headers
        corrupt = 0
        backoff = Backoff(stop)
        last_error: BaseException | None = None
        note: str | None = None  # why the file is downloading again: every progress event of the retry says it
        segmented = self.connections > 1 and remote.size >= self.settings.segment_min
        if not segmented:
            to_single(incomplete)  # a segmented partial from a run with ranges: its first bytes are kept
        tries = self.settings.retries
        for tried in range(tries):
            attempt: Attempt | SegmentedAttempt
            if segmented:
                attempt = SegmentedAttempt(
                    remote, incomplete, stop, self._progress(rp, fp, note), connections=self.connections,
                    retries=self.settings.retries, endpoint=self.settings.endpoint, slots=self._slots,
                    throttle=self.steering.throttle)
            else:
                attempt = Attempt(remote, incomplete, stop, self._progress(rp, fp, note), self.steering.throttle)
            try:
                digest = attempt.run(url, headers)
            except Cancelled:
                raise
            except RangeIgnored:  # nothing was written: one stream, from the partial's first bytes
                segmented = False
                to_single(incomplete)
                self._emit(rp, fp, FileState.DOWNLOADING, metadata.partial_size(paths, remote.etag, remote.size),
                           message="the server ignores Range: one connection")
                continue
            except Exception as e:
                # a CDN link that expired or failed is transient: the next attempt resolves a fresh one
                if not is_transient(e, self.settings.endpoint):
                    raise
                last_error = e
                if tried + 1 < tries:  # the last attempt's error ends the file below, with no wait before
                    note = f"retrying (attempt {tried + 2} of {tries}): {self._describe(e)}"
                    self._emit(rp, fp, FileState.DOWNLOADING, metadata.partial_size(paths, remote.etag, remote.size),
                               message=note)
                    backoff.pause(e)
                continue
            finally:
                with self._lock:  # once per attempt, not per chunk: the byte counter stays off the hot path
                    self._fetched += attempt.received
                    self._by_repo[(rp.ref.repo_type, rp.ref.repo_id)] += attempt.received
            self._emit(rp, fp, FileState.VERIFYING, remote.size)
            finished = segmented_paths(incomplete)[0] if segmented else incomplete
            proven = proves(remote.etag, digest)
            if proven and not exact_size(finished, remote.size):
                digest, proven = f"a file of another size than {remote.size} bytes", False
            if not proven:
                corrupt += 1
                incomplete.unlink(missing_ok=True)
                drop_segmented(incomplete)
                if corrupt >= MAX_CORRUPT:
                    said = f"the publisher says {shown_hash(remote.etag)}" if rp.urls is not None else \
                        f"the Hub says {remote.etag[:12]}…"
                    msg = f"{remote.algorithm} mismatch: {said}, {corrupt} downloads gave {digest[:12]}… (nothing kept)"
                    self._emit(rp, fp, FileState.FAILED, 0, message=msg)
                    return FileState.FAILED, msg
                note = f"{remote.algorithm} mismatch, downloading again"
                self._emit(rp, fp, FileState.DOWNLOADING, 0, message=note)
                continue
            os.replace(finished, paths.file_path)
            if segmented:
                segmented_paths(incomplete)[1].unlink(missing_ok=True)
            metadata.write_metadata(paths, commit, self._arrivals.pinned(rp, remote, digest))
            return self._arrivals.arrived(rp, fp, FileState.DONE, stop)
        msg = f"gave up after {tries} attempts: {self._describe(last_error)}" \
            if last_error else "gave up"
        self._emit(rp, fp, FileState.FAILED, metadata.partial_size(paths, remote.etag, remote.size), message=msg)
        return FileState.FAILED, msg

    def _adopt(self, rp: RepoPlan, fp: FilePlan, paths: metadata.DownloadPaths, commit: str) -> bool:
        """A file already here at its size but unrecorded: hash it, and record it when it is the Hub's."""
        remote = fp.remote
        self._emit(rp, fp, FileState.VERIFYING, 0)
        h = new_hasher(remote.algorithm, remote.size)
        feed_file(h, paths.file_path)
        if not proves(remote.etag, h.hexdigest()):
            return False
        metadata.write_metadata(paths, commit, self._arrivals.pinned(rp, remote, h.hexdigest()))
        return True

    def _mkdir(self, folder: Path) -> None:
        """Make a folder of the root once a run, never through a planted symlink (``make_dirs``)."""
        if folder not in self._made:
            make_dirs(folder, self.settings.root)
            self._made.add(folder)

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, token=self.settings.token, endpoint=self.settings.endpoint)

