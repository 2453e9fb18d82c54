"""A big file over several ranged connections: resolved once (the Hub's ``resolve`` redirects to a signed CDN URL
on another host, sent no token), each range written where it belongs, and the file hashed as its contiguous
prefix grows, so the digest is known as the last range ends and a corrupted range can never pass.

What arrived survives any interruption: the ranges' progress is kept beside the partial file
(``…segmented.json``), written only after the bytes it counts were flushed to disk, so a crash can never make a
missing range look present. A server that ignores ``Range`` (answers 200) ends the attempt with
``RangeIgnored`` before a byte is written; the caller fetches the file as one stream instead."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub import constants, get_hf_file_metadata
from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

from ..local.hashing import new_hasher
from ..local.partials import STATE_VERSION, boot_id, read_record, segmented_paths
from ..local.safeio import create_temp, open_append, open_fd
from ..progress import file_rate
from ..remote import RemoteFile
from .backoff import Backoff, Cancelled
from .errors import is_transient
from .throttle import Throttle

CHECKPOINT_SECONDS = 0.25  # between two records of the bytes written: a kill loses about this much of each range
DURABLE_SECONDS = 5.0  # between two flushes: a machine that stops (power, crash) loses about this much
HASH_BLOCK = 1 << 20
PIECE_MIN = 8 << 20  # the smallest range: one request each
MAX_PIECES = 256  # a bigger file has bigger pieces, so its progress record stays small
PROBE_SECONDS = 0.3  # one connection alone first…
FAST_LINK = 50_000_000  # …and more only when it brings less than this, in bytes a second
PROGRESS_INTERVAL = 0.1


class RangeIgnored(Exception):
    """The server answered a ranged request with the whole file."""


@dataclass
class Range:
    start: int
    end: int  # exclusive
    done: int = 0  # bytes from ``start`` on disk (flushed when the progress file says so)
    busy: bool = False  # a connection fetches it now

    @property
    def left(self) -> int:
        return self.end - self.start - self.done


def plan_ranges(size: int, connections: int) -> list[Range]:
    """Pieces of at least PIECE_MIN (at most MAX_PIECES of them), fetched in order by whichever connection is
    free: the hashed prefix trails the download by a piece a connection, not by most of the file."""
    step = max(PIECE_MIN, -(-size // MAX_PIECES), 1)
    step = min(step, max(1, -(-size // connections)))  # a file just over the threshold still uses every connection
    return [Range(a, min(a + step, size)) for a in range(0, size, step)]


class SegmentedAttempt:
    """Fetch what ``remote`` still lacks over up to ``connections`` ranges at once (``slots`` hands out the
    connections beyond the first, shared by the run). ``received`` counts this attempt's bytes."""

    def __init__(self, remote: RemoteFile, incomplete: Path, cancel: threading.Event,
                 on_progress: Callable[[int, float, int], None], *, connections: int, retries: int,
                 endpoint: str, slots: threading.Semaphore | None = None, throttle: Throttle | None = None) -> None:
        self.remote, self.cancel, self.on_progress = remote, cancel, on_progress
        self.throttle = throttle or Throttle()
        self.single = incomplete
        self.data, self.state = segmented_paths(incomplete)
        self.connections, self.retries, self.endpoint = connections, retries, endpoint
        self.slots = slots
        self.received = 0
        self.open = 0  # connections open now (the app shows them)
        self.lock = threading.Condition()
        self.saving = threading.Lock()  # one record written at a time
        self.durable: list[int] = []  # each range's bytes known to be on disk (flushed before recorded)
        self.settled = threading.Event()  # every range is taken, or the attempt failed: no connection is added
        self.ranges: list[Range] = []
        self.failure: BaseException | None = None
        self.location: str | None = None

    # --- the progress file --------------------------------------------------------------------
    def _load(self) -> list[Range]:
        """The ranges as recorded: the bytes written, when the machine has not restarted since (the page cache
        kept them through a kill), else only those flushed to disk."""
        size = self.remote.size
        read = read_record(self.state)
        if read is not None:
            saved, entries, trusted = read
            ranges = [Range(a, b, w if trusted else d) for a, b, w, d in entries]
            try:
                have = self.data.stat().st_size
            except OSError:
                have = 0
            ok = (saved.get("version") == STATE_VERSION and saved.get("size") == size
                  and saved.get("etag") == self.remote.etag and ranges and ranges[0].start == 0
                  and ranges[-1].end == size and all(0 <= r.done <= r.end - r.start for r in ranges)
                  and all(r.done == 0 or r.start + r.done <= have for r in ranges))
            if ok:
                self.durable = [d for _a, _b, _w, d in entries]
                return ranges
        self.state.unlink(missing_ok=True)
        ranges = plan_ranges(size, self.connections)
        try:  # a single stream's partial is this file's first bytes: kept, not fetched again
            have = min(self.single.stat().st_size, size)
            os.replace(self.single, self.data)
        except FileNotFoundError:
            have = 0
        with open_append(self.data) as fh:
            fh.truncate(have)
        for r in ranges:
            r.done = max(0, min(have - r.start, r.end - r.start))
        self.durable = [0] * len(ranges)
        return ranges

    def _record(self, fd: int, durable: bool) -> None:
        """Record each range's bytes written, and those known to be on disk. Counted before any flush, so the
        record never claims a byte that was not written when it was counted; with ``durable``, the data is
        flushed (``fdatasync``) before the count becomes the durable one."""
        with self.saving:
            with self.lock:
                written = [r.done for r in self.ranges]
            if durable:
                os.fdatasync(fd)
                self.durable = written
            data = {"version": STATE_VERSION, "size": self.remote.size, "etag": self.remote.etag, "boot": boot_id(),
                    "ranges": [[r.start, r.end, w, d] for r, w, d in zip(self.ranges, written, self.durable,
                                                                         strict=True)]}
            fd, tmp = create_temp(self.state)
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(data, fh)
                    if durable:
                        fh.flush()
                        os.fsync(fh.fileno())
                os.replace(tmp, self.state)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    def _checkpoints(self, fd: int, stop: threading.Event) -> None:
        """Record the progress every CHECKPOINT_SECONDS and flush it every DURABLE_SECONDS, off the ranges'
        threads: a connection never waits for the disk."""
        flushed = time.monotonic()
        while not stop.wait(CHECKPOINT_SECONDS):
            durable = time.monotonic() - flushed >= DURABLE_SECONDS
            if durable:
                flushed = time.monotonic()
            self._record(fd, durable)

    # --- the run ------------------------------------------------------------------------------
    def run(self, url: str, headers: dict[str, str]) -> str:
        """Fetch every missing range; returns the hex digest of the whole file. On any error the progress is
        saved and the error raised (the next attempt or run continues from there)."""
        self.location, cdn_headers = self._resolve(url, headers)  # before the partial is touched: a failed
        self.ranges = self._load()  # resolve leaves a single stream's partial where it was, for the next attempt
        fd = open_fd(self.data, os.O_RDWR)
        started, present = time.monotonic(), self._present()
        hasher = Prefix(self, fd)
        threads: list[threading.Thread] = []
        done = threading.Event()
        recorder = threading.Thread(target=self._checkpoints, args=(fd, done), name="segment_record", daemon=True)
        recorder.start()
        args = (fd, url, headers, cdn_headers, started, present)
        opener = threading.Thread(target=self._open_more, args=(args, threads), name="segment_open", daemon=True)
        try:
            self._report(present, started, present)
            hasher.start()
            opener.start()
            self._worker(*args, False)
            self.settled.set()  # no range left to start: no more connections
            opener.join()
            for t in threads:
                t.join()
            if self.failure is not None:
                raise self.failure
            if self.cancel.is_set():
                raise Cancelled()
            digest = hasher.finish()
        except BaseException:
            with self.lock:
                self.failure = self.failure or Cancelled()  # a worker still waiting stops; the hasher too
                self.lock.notify_all()
            self.settled.set()
            if opener.is_alive():
                opener.join()
            for t in threads:
                t.join()
            hasher.stop()
            done.set()
            recorder.join()
            self._record(fd, durable=True)  # what arrived, for the next attempt or run
            raise
        finally:
            done.set()
            recorder.join()
            os.close(fd)
        return digest  # whole: the caller checks it and moves the file into place (no record needed)

    def _open_more(self, args: tuple[Any, ...], threads: list[threading.Thread]) -> None:
        """After PROBE_SECONDS on one connection, the others (as the run's slots allow), unless that one already
        brings FAST_LINK: on a fast link more connections only cost (more threads, a longer hash at the end)."""
        if self.settled.wait(PROBE_SECONDS):
            return
        with self.lock:
            rate = self.received / PROBE_SECONDS
        if rate >= FAST_LINK:
            return
        for i in range(min(self.connections, len(self.ranges)) - 1):
            if self.settled.is_set() or (self.slots is not None and not self.slots.acquire(blocking=False)):
                break
            t = threading.Thread(target=self._worker, args=(*args, True), name=f"segment_{i + 1}", daemon=True)
            threads.append(t)
            t.start()

    def _present(self) -> int:
        return sum(r.done for r in self.ranges)

    def _report(self, present: int, started: float, resumed: int) -> None:
        self.on_progress(present, file_rate(present - resumed, started, time.monotonic()), self.open)

    def _resolve(self, url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The URL the ranges go to (the CDN's, when the Hub redirects there) and the headers for it: no token
        for another host, as huggingface_hub does."""
        meta = get_hf_file_metadata(url, token=False, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT)
        location = meta.location or url
        if urlsplit(location).netloc == urlsplit(url).netloc:
            return location, headers
        return location, {k: v for k, v in headers.items() if k.lower() != "authorization"}

    def _next(self) -> Range | None:
        """The first range that is not whole and that no connection fetches."""
        with self.lock:
            if self.failure is not None:
                return None
            r = next((r for r in self.ranges if r.left > 0 and not r.busy), None)
            if r is not None:
                r.busy = True
            return r

    def _worker(self, fd: int, url: str, headers: dict[str, str], cdn_headers: dict[str, str], started: float,
                resumed: int, slot: bool) -> None:
        try:
            while (r := self._next()) is not None:
                try:
                    self._fetch_range(fd, r, url, headers, cdn_headers, started, resumed)
                finally:
                    with self.lock:
                        r.busy = False
        except BaseException as e:
            with self.lock:
                if self.failure is None:
                    self.failure = e
                self.lock.notify_all()
        finally:
            if slot and self.slots is not None:
                self.slots.release()

    def _fetch_range(self, fd: int, r: Range, url: str, headers: dict[str, str], cdn_headers: dict[str, str],
                     started: float, resumed: int) -> None:
        backoff = Backoff(self.cancel)
        last: BaseException | None = None
        for _ in range(self.retries):
            if self.cancel.is_set():
                raise Cancelled()
            try:
                self._stream(fd, r, started, resumed, cdn_headers)
                return
            except (Cancelled, RangeIgnored):
                raise
            except Exception as e:
                if not is_transient(e, self.endpoint):
                    raise
                last = e
                backoff.pause(e)
                self.location, cdn_headers = self._resolve(url, headers)  # an expired or failing link: a new one
        assert last is not None
        raise last

    def _stream(self, fd: int, r: Range, started: float, resumed: int, headers: dict[str, str]) -> None:
        assert self.location is not None
        pos = r.start + r.done
        request = dict(headers, Range=f"bytes={pos}-{r.end - 1}")
        request["Accept-Encoding"] = "identity"
        with self.lock:
            self.open += 1
        try:
            with http_stream_backoff("GET", self.location, headers=request, retry_on_exceptions=(),
                                     retry_on_status_codes=(408, 429),
                                     timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as response:
                hf_raise_for_status(response)
                if response.status_code != 206 or not _starts_at(response, pos):
                    raise RangeIgnored()
                last = 0.0
                for chunk in response.iter_bytes():
                    if not chunk:
                        continue
                    if len(chunk) > r.end - pos:
                        raise OSError("Consistency check failed: the server sent more than the range asked for")
                    written = 0
                    while written < len(chunk):
                        written += os.pwrite(fd, memoryview(chunk)[written:], pos + written)
                    pos += len(chunk)
                    now = time.monotonic()
                    with self.lock:
                        r.done += len(chunk)
                        self.received += len(chunk)
                        if pos == r.end:
                            self.lock.notify_all()  # the hasher goes on at each whole range (and every 0.5 s)
                    if now - last >= PROGRESS_INTERVAL:
                        last = now
                        self._report(self._present(), started, resumed)
                    self.throttle.take(len(chunk), self.cancel)
                    if self.cancel.is_set() or self.failure is not None:
                        raise Cancelled()  # the run's cancel, or another range failed: this one stops too
                if pos != r.end:
                    raise OSError(f"Consistency check failed: the range ended at {pos}, not {r.end}")
        finally:
            with self.lock:
                self.open -= 1


def _starts_at(response: Any, pos: int) -> bool:
    value = response.headers.get("Content-Range", "")
    return value.startswith(f"bytes {pos}-")


class Prefix(threading.Thread):
    """Hashes the file as its contiguous prefix grows: the ranges after the first are read back from the page
    cache once the ones before them are whole, so the digest is ready as the last byte lands."""

    def __init__(self, attempt: SegmentedAttempt, fd: int) -> None:
        super().__init__(name="segment_hash", daemon=True)
        self.attempt, self.fd = attempt, fd
        self.hasher = new_hasher(attempt.remote.algorithm, attempt.remote.size)
        self.hashed = 0
        self.stopped = False
        self.error: BaseException | None = None

    def _contiguous(self) -> int:
        end = 0
        for r in self.attempt.ranges:
            end = r.start + r.done
            if r.left > 0:
                break
        return end

    def run(self) -> None:
        a, size = self.attempt, self.attempt.remote.size
        try:
            while self.hashed < size:
                with a.lock:
                    while not self.stopped and (ready := self._contiguous()) <= self.hashed:
                        a.lock.wait(0.5)
                    if self.stopped:
                        return
                while self.hashed < ready:
                    block = os.pread(self.fd, min(HASH_BLOCK, ready - self.hashed), self.hashed)
                    if not block:
                        raise OSError("the partial file is shorter than its ranges say")
                    self.hasher.update(block)
                    self.hashed += len(block)
        except BaseException as e:
            self.error = e

    def finish(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        if self.hashed != self.attempt.remote.size:
            raise OSError("Consistency check failed: the file was not hashed to its end")
        return str(self.hasher.hexdigest())

    def stop(self) -> None:
        with self.attempt.lock:
            self.stopped = True
            self.attempt.lock.notify_all()
        self.join()
