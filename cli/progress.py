"""The download's progress on stderr: a line per finished or failed file, and the totals."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

from core.progress import RateWindow
from core.safety import printable
from core.sizes import eta, human
from core.states import FileState

if TYPE_CHECKING:
    from core.repos import RepoRef
    from core.results import FileEvent

ENDED = tuple(s for s in FileState if s.ended)


class PlanningPrinter:
    """What planning is doing, on stderr: a live line on a terminal (at most five times a second), else a line
    every two seconds; retries always get their line. Listing a 300,000-file repo takes 300 pages."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.lock = threading.Lock()
        self.last = 0.0
        self.shown = False
        self._time = time.monotonic

    def on_progress(self, ref: RepoRef, text: str) -> None:
        if self.quiet:
            return
        urgent = "asking again" in text
        with self.lock:
            now = self._time()
            if not urgent and now - self.last < (0.2 if self.tty else 2.0):
                return
            self.last = now
            line = printable(f"planning {ref.repo_id}: {text}")
            sys.stderr.write(f"\r\033[K{line}" if self.tty and not urgent else f"{line}\n")
            sys.stderr.flush()
            self.shown = self.tty and not urgent

    def finish(self) -> None:
        with self.lock:
            if self.shown:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()
                self.shown = False


class ProgressPrinter:
    """Compact progress: a line per finished or failed file, and totals every few seconds (or a live status
    line on a terminal). Lines are gathered under a lock and written outside it, at most ten times a second:
    a write per file under the lock made the download threads queue on it. Only files in flight are kept:
    a finished one leaves its bytes in the totals (flat memory at 300,000 files)."""

    FLUSH_EVERY = 0.1

    def __init__(self, quiet: bool = False, interval: float = 5.0) -> None:
        self.quiet, self.interval = quiet, interval
        self.tty = sys.stderr.isatty()
        self.lock, self.out_lock = threading.Lock(), threading.Lock()
        self.active: dict[tuple[str, str, str], int] = {}  # bytes on disk of each file in flight
        self.resumed: dict[tuple[str, str, str], int] = {}  # bytes kept for resume of each queued partial file
        self.retrying: dict[tuple[str, str, str], str] = {}  # the retry reason printed for each file in flight
        self.files = self.bytes_total = self.bytes_ended = self.bytes_queued = 0
        self.finished = self.failed = self.cancelled = self.base = 0
        self.started = self.last = self.flushed = time.monotonic()
        self.pending: list[str] = []
        self.window = RateWindow()
        self.gone = False  # the terminal went away: nothing more is printed
        self._time = time.monotonic

    def on_event(self, e: FileEvent) -> None:
        """Called for every event from the download threads: no imports or I/O here but the lines it prints."""
        key = (e.repo_type, e.repo_id, e.path)
        batch = None
        with self.lock:
            line = None
            if e.state is FileState.QUEUED:  # every file is queued once, first
                self.files += 1
                self.bytes_total += e.total
                self.base += e.done
                self.bytes_queued += e.done
                if e.done:
                    self.resumed[key] = e.done
            else:
                if key not in self.active:  # leaves the queue: its kept bytes move to its own count
                    self.bytes_queued -= self.resumed.pop(key, 0)
                if e.state in ENDED:
                    self.bytes_ended += e.done
                    self.active.pop(key, None)
                    self.retrying.pop(key, None)
                else:
                    self.active[key] = e.done
            if e.state is FileState.DONE:
                self.finished += 1
                line = f"done    {e.repo_id}/{e.path} ({human(e.total)})"
            elif e.state is FileState.SKIPPED:
                self.finished += 1
            elif e.state is FileState.CANCELLED:
                self.cancelled += 1
            elif e.state is FileState.FAILED:
                self.failed += 1
                line = f"FAILED  {e.repo_id}/{e.path}: {e.message}"
            elif e.state in (FileState.EXTRACTING, FileState.PAUSED):
                if self.retrying.get(key) != e.state:  # said once: its progress is in the totals line
                    self.retrying[key] = e.state
                    line = f"{'extract' if e.state is FileState.EXTRACTING else 'paused ':<7} {e.repo_id}/{e.path}"
            elif e.message and self.retrying.get(key) != e.message:  # once a reason: a retry's events all carry it
                self.retrying[key] = e.message
                line = f"retry   {e.repo_id}/{e.path}: {e.message}"
            if self.quiet:
                return
            now = self._time()
            if line:
                line = printable(line)  # a remote name never moves the cursor or rewrites the screen
                self.pending.append(("\r\033[K" if self.tty else "") + line + "\n")
            if now - self.last >= (0.2 if self.tty else self.interval):
                self.last = now
                self.pending.append(self._status() + ("\r" if self.tty else "\n"))
            if self.pending and now - self.flushed >= self.FLUSH_EVERY:
                batch, self.pending, self.flushed = self.pending, [], now
        if batch:
            self._write(batch)

    def _status(self) -> str:
        done = self.bytes_ended + self.bytes_queued + sum(self.active.values())
        rate = self.window.rate(self._time(), done - self.base)  # this run's bytes, as the app's summary reads them
        speed = f"{human(int(rate))}/s" if rate is not None else "- /s"
        return (f"[{human(done)} / {human(self.bytes_total)}, {speed}, ETA "
                f"{eta(self.bytes_total - done, rate or 0.0)}] {self.finished} done, {self.failed} failed, "
                + (f"{self.cancelled} cancelled, " if self.cancelled else "")
                + f"{self.files - self.finished - self.failed - self.cancelled} to go")

    def _write(self, batch: list[str]) -> None:
        """Progress is for a terminal that may be gone (a hang-up): a write that fails ends the printing, never
        the download."""
        with self.out_lock:
            if self.gone:
                return
            try:
                sys.stderr.write("".join(batch))
                sys.stderr.flush()
            except (OSError, ValueError):
                self.gone = True

    def finish(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if self.tty and not self.quiet:
            batch.append("\r\033[K")
        if batch:
            self._write(batch)
