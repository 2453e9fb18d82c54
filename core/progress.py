"""Progress for front ends: coalescing high-rate events (keep the latest event per key, deliver batches at most
every ``interval`` seconds, never holding one back longer), and the one rate every screen shows."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

E = TypeVar("E")


class Coalescer(Generic[E]):
    """``push`` from any thread; ``deliver`` receives lists of events, oldest key first, from a timer thread."""

    def __init__(self, deliver: Callable[[list[E]], object], key: Callable[[E], Hashable],
                 interval: float = 0.1) -> None:
        self.deliver, self.key, self.interval = deliver, key, interval
        self._pending: dict[Hashable, E] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def push(self, event: E) -> None:
        with self._lock:
            k = self.key(event)
            self._pending.pop(k, None)
            self._pending[k] = event
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Deliver whatever is pending now."""
        with self._lock:
            batch = list(self._pending.values())
            self._pending.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if batch:
            self.deliver(batch)


RATE_WINDOW = 5.0  # seconds a rate is measured over: a stall reads 0 within them
FIRST_RATE = 1.0  # seconds of data before a rate is believed (the first chunk of a fast link says 40 MiB/s)


def file_rate(done: int, started_at: float, now: float) -> float:
    """One transfer's rate: ``done`` bytes since ``started_at``, or 0 before FIRST_RATE seconds of it."""
    elapsed = now - started_at
    return done / elapsed if elapsed >= FIRST_RATE else 0.0


class RateWindow:
    """Bytes a second of a growing count over the last RATE_WINDOW seconds; None before FIRST_RATE seconds of
    samples. The app's summary and the CLI's totals line both read it, so both say the same speed."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, count: int) -> float | None:
        if not count:  # nothing yet: an idle start would stretch the first window over the idle time
            self.samples.clear()
            return None
        self.samples.append((now, count))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW:
            self.samples.popleft()
        then, before = self.samples[0]
        return max(0.0, (count - before) / (now - then)) if now - then >= FIRST_RATE else None
