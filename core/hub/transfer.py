"""One attempt at one file: continue its partial download with huggingface_hub's ``http_get``, writing and
hashing every byte as it arrives, so a dropped connection loses nothing and the digest is known as the body ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from huggingface_hub.file_download import http_get

from ..local.hashing import feed_file, new_hasher
from ..local.safeio import open_append
from ..progress import file_rate
from ..remote import RemoteFile
from .backoff import Cancelled
from .throttle import Throttle

# http_get hands on the body in chunks of DOWNLOAD_CHUNK_SIZE (10 MB by default), so a dropped connection loses
# whatever was buffered. None makes httpx pass each network read straight through: every byte that arrived is
# written (and kept for resume) at once, and progress moves as bytes arrive.
CHUNK_SIZE = None
PROGRESS_INTERVAL = 0.1


class _Sink:
    """The file object handed to ``http_get``: writes, hashes and reports progress as bytes arrive."""

    def __init__(self, fh: BinaryIO, hasher: Any, on_bytes: Callable[[int], None], cancel: threading.Event,
                 restart: Callable[[], Any], throttle: Throttle) -> None:
        self.fh, self.hasher, self.on_bytes, self.cancel = fh, hasher, on_bytes, cancel
        self.throttle = throttle
        self.restart = restart  # a new hasher, with the byte counters back at zero

    def write(self, chunk: bytes) -> int:
        n = self.fh.write(chunk)  # keep what arrived, even when the run is being cancelled
        while n < len(chunk):  # an unbuffered file may take part of a chunk (a signal, a nearly full disk)
            n += self.fh.write(memoryview(chunk)[n:])
        self.hasher.update(chunk)
        self.on_bytes(len(chunk))
        self.throttle.take(len(chunk), self.cancel)  # the cap: the next read waits, the server's sends with it
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
        self.hasher = self.restart()
        return n


class Attempt:
    """Fetch the rest of ``remote`` into ``incomplete``. ``on_progress(done, rate)`` hears the bytes the file
    holds and this attempt's rate, at most every PROGRESS_INTERVAL; ``received`` counts this attempt's bytes."""

    def __init__(self, remote: RemoteFile, incomplete: Path, cancel: threading.Event,
                 on_progress: Callable[[int, float], None], throttle: Throttle | None = None) -> None:
        self.remote, self.incomplete, self.cancel, self.on_progress = remote, incomplete, cancel, on_progress
        self.throttle = throttle or Throttle()
        self.received = 0

    def run(self, url: str, headers: dict[str, str]) -> str:
        """One request; returns the hex digest of the whole file as it now stands."""
        remote, incomplete = self.remote, self.incomplete
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
                self.on_progress(done, file_rate(done - resume, started, now))

        def restart() -> Any:
            """The server ignored our Range and sends the whole file: http_get empties the partial."""
            nonlocal done, resume
            done = resume = 0
            return new_hasher(remote.algorithm, remote.size)

        self.on_progress(resume, 0.0)
        try:
            with open_append(incomplete, buffering=0) as fh:  # unbuffered: each network read is one write
                sink = _Sink(fh, hasher, on_bytes, self.cancel, restart, self.throttle)
                http_get(url, sink, resume_size=resume, headers=headers,  # type: ignore[arg-type]
                         expected_size=remote.size, displayed_filename=remote.path)
        finally:
            self.received = done - resume
        return str(sink.hasher.hexdigest())
