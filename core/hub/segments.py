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
from ..remote import RemoteFile
from .backoff import Backoff, Cancelled
from .errors import is_transient

CHECKPOINT_SECONDS = 0.25  # between two records of the ranges' progress: a kill loses about this much of each
HASH_BLOCK = 1 << 20
PIECE_MIN = 8 << 20  # the smallest range: one request each
MAX_PIECES = 256  # a bigger file has bigger pieces, so its progress record stays small
PROGRESS_INTERVAL = 0.1
STATE_VERSION = 1


class RangeIgnored(Exception):
    """The server answered a ranged request with the whole file."""


def segmented_paths(incomplete: Path) -> tuple[Path, Path]:
    """The partial file of a segmented download and its progress, beside the single stream's partial (they never
    share a file: a single stream resumes from its partial's length, which a segmented one does not have)."""
    stem = incomplete.name.removesuffix(".incomplete")
    return incomplete.with_name(f"{stem}.segmented.incomplete"), incomplete.with_name(f"{stem}.segmented.json")


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
    free: the hashed prefix trails the download by a few pieces, not by most of the file."""
    step = max(PIECE_MIN, -(-size // MAX_PIECES), 1)
    step = min(step, max(1, -(-size // connections)))  # a file just over the threshold still uses every connection
    return [Range(a, min(a + step, size)) for a in range(0, size, step)]


class SegmentedAttempt:
    """Fetch what ``remote`` still lacks over up to ``connections`` ranges at once (``slots`` hands out the
    connections beyond the first, shared by the run). ``received`` counts this attempt's bytes."""

    def __init__(self, remote: RemoteFile, incomplete: Path, cancel: threading.Event,
                 on_progress: Callable[[int, float, int], None], *, connections: int, retries: int,
                 endpoint: str, slots: threading.Semaphore | None = None) -> None:
        self.remote, self.cancel, self.on_progress = remote, cancel, on_progress
        self.single = incomplete
        self.data, self.state = segmented_paths(incomplete)
        self.connections, self.retries, self.endpoint = connections, retries, endpoint
        self.slots = slots
        self.received = 0
        self.open = 0  # connections open now (the app shows them)
        self.lock = threading.Condition()
        self.saving = threading.Lock()  # one record written at a time
        self.saved_at = time.monotonic()
        self.ranges: list[Range] = []
        self.failure: BaseException | None = None
        self.location: str | None = None

    # --- the progress file --------------------------------------------------------------------
    def _load(self) -> list[Range]:
        size = self.remote.size
        try:
            saved = json.loads(self.state.read_text())
            ranges = [Range(a, b, d) for a, b, d in saved["ranges"]]
            have = self.data.stat().st_size
            ok = (saved.get("version") == STATE_VERSION and saved.get("size") == size
                  and saved.get("etag") == self.remote.etag and ranges and ranges[0].start == 0
                  and ranges[-1].end == size and all(0 <= r.done <= r.end - r.start for r in ranges)
                  and all(r.done == 0 or r.start + r.done <= have for r in ranges))
            if ok:
                return ranges
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.state.unlink(missing_ok=True)
        ranges = plan_ranges(size, self.connections)
        try:  # a single stream's partial is this file's first bytes: kept, not fetched again
            have = min(self.single.stat().st_size, size)
            os.replace(self.single, self.data)
        except FileNotFoundError:
            have = 0
        with open(self.data, "ab") as fh:
            fh.truncate(have)
        for r in ranges:
            r.done = max(0, min(have - r.start, r.end - r.start))
        return ranges

    def _save(self, fd: int) -> None:
        """Count what has been written, flush it, then record the count: the record never counts a byte the disk
        may not hold (a byte written after the count waits for the next record)."""
        with self.saving:
            with self.lock:
                data = {"version": STATE_VERSION, "size": self.remote.size, "etag": self.remote.etag,
                        "ranges": [[r.start, r.end, r.done] for r in self.ranges]}
            os.fdatasync(fd)
            tmp = self.state.with_name(self.state.name + ".tmp")
            with open(tmp, "w") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state)

    # --- the run ------------------------------------------------------------------------------
    def run(self, url: str, headers: dict[str, str]) -> str:
        """Fetch every missing range; returns the hex digest of the whole file. On any error the progress is
        saved and the error raised (the next attempt or run continues from there)."""
        self.ranges = self._load()
        self.location, cdn_headers = self._resolve(url, headers)
        fd = os.open(self.data, os.O_RDWR)
        started, present = time.monotonic(), self._present()
        hasher = Prefix(self, fd)
        threads: list[threading.Thread] = []
        try:
            self._report(present, started, present)
            extra = 0
            for _ in range(min(self.connections, len(self.ranges)) - 1):
                if self.slots is not None and not self.slots.acquire(blocking=False):
                    break
                extra += 1
            hasher.start()
            for i in range(extra):
                threads.append(threading.Thread(target=self._worker, args=(fd, url, headers, cdn_headers, started,
                                                                            present, True),
                                                name=f"segment_{i + 1}", daemon=True))
                threads[-1].start()
            self._worker(fd, url, headers, cdn_headers, started, present, False)
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
            for t in threads:
                t.join()
            hasher.stop()
            self._save(fd)  # what arrived, for the next attempt or run
            raise
        finally:
            os.close(fd)
        return digest  # whole: the caller checks it and moves the file into place (no record needed)

    def _present(self) -> int:
        return sum(r.done for r in self.ranges)

    def _report(self, present: int, started: float, resumed: int) -> None:
        self.on_progress(present, (present - resumed) / max(time.monotonic() - started, 1e-6), self.open)

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
                        self.lock.notify_all()
                        due = now - self.saved_at >= CHECKPOINT_SECONDS
                        if due:
                            self.saved_at = now  # one range records them all
                    if due:
                        self._save(fd)
                    if now - last >= PROGRESS_INTERVAL:
                        last = now
                        self._report(self._present(), started, resumed)
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


def to_single(incomplete: Path) -> None:
    """A segmented partial handed to a single stream (segments turned off, or a server that ignores Range): its
    contiguous first bytes become the stream's partial; the rest, which a stream cannot resume, is dropped."""
    data, state = segmented_paths(incomplete)
    if not data.exists():
        return
    try:
        saved = json.loads(state.read_text())
        prefix = 0
        for a, b, d in saved["ranges"]:
            prefix = a + d
            if a + d < b:
                break
    except (OSError, ValueError, KeyError, TypeError):
        prefix = 0
    if prefix and not incomplete.exists():
        with open(data, "r+b") as fh:
            fh.truncate(min(prefix, os.path.getsize(data)))
        os.replace(data, incomplete)
    data.unlink(missing_ok=True)
    state.unlink(missing_ok=True)


def drop_segmented(incomplete: Path) -> None:
    """Forget a segmented partial (its hash did not match: every range is fetched again)."""
    for path in segmented_paths(incomplete):
        path.unlink(missing_ok=True)
