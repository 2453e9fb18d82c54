"""The download's progress on stderr: a line per finished or failed file, and the totals."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

from core.sizes import human
from core.states import FileState

if TYPE_CHECKING:
    from core.hub.download import FileEvent


class ProgressPrinter:
    """Compact progress: a line per finished or failed file, and totals every few seconds (or a live status
    line on a terminal). Lines are gathered under a lock and written outside it, at most ten times a second:
    a write per file under the lock made the download threads queue on it."""

    FLUSH_EVERY = 0.1

    def __init__(self, quiet: bool = False, interval: float = 5.0) -> None:
        self.quiet, self.interval = quiet, interval
        self.tty = sys.stderr.isatty()
        self.lock, self.out_lock = threading.Lock(), threading.Lock()
        self.done: dict[tuple[str, str], int] = {}
        self.total: dict[tuple[str, str], int] = {}
        self.finished = self.failed = self.base = 0
        self.started = self.last = self.flushed = time.monotonic()
        self.pending: list[str] = []
        self._time = time.monotonic

    def on_event(self, e: FileEvent) -> None:
        """Called for every event from the download threads: no imports or I/O here but the lines it prints."""
        key = (e.repo_id, e.path)
        batch = None
        with self.lock:
            if key not in self.total:
                self.base += e.done
            self.done[key], self.total[key] = e.done, e.total
            if self.quiet:
                return
            line = None
            if e.state is FileState.DONE:
                self.finished += 1
                line = f"done    {e.repo_id}/{e.path} ({human(e.total)})"
            elif e.state is FileState.SKIPPED and e.message is None:
                self.finished += 1
            elif e.state is FileState.FAILED:
                self.failed += 1
                line = f"FAILED  {e.repo_id}/{e.path}: {e.message}"
            elif e.message:
                line = f"retry   {e.repo_id}/{e.path}: {e.message}"
            now = self._time()
            if line:
                self.pending.append(("\r\033[K" if self.tty else "") + line + "\n")
            if now - self.last >= (0.2 if self.tty else self.interval):
                self.last = now
                self.pending.append(self._status() + ("\r" if self.tty else "\n"))
            if self.pending and now - self.flushed >= self.FLUSH_EVERY:
                batch, self.pending, self.flushed = self.pending, [], now
        if batch:
            self._write(batch)

    def _status(self) -> str:
        done, total = sum(self.done.values()), sum(self.total.values())
        rate = (done - self.base) / max(self._time() - self.started, 1e-6)  # bytes of this run only
        return (f"[{human(done)} / {human(total)}, {human(int(rate))}/s] {self.finished} done, "
                f"{self.failed} failed, {len(self.total) - self.finished - self.failed} to go")

    def _write(self, batch: list[str]) -> None:
        with self.out_lock:
            sys.stderr.write("".join(batch))
            sys.stderr.flush()

    def finish(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if self.tty and not self.quiet:
            batch.append("\r\033[K")
        if batch:
            self._write(batch)
