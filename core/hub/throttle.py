"""One bandwidth cap shared by every connection of a process (the service's, or one foreground run's): each
connection takes the bytes it has just read, and waits as long as the cap says those bytes cost. The cap can
change while connections wait: they are woken and go on under the new one."""

from __future__ import annotations

import threading
import time

BURST = 0.25  # seconds of bytes a connection may take at once after a quiet spell
SLICE = 0.1  # the longest wait before a waiting connection looks at its stop and the cap again


class Throttle:
    def __init__(self, rate: int = 0) -> None:
        self._rate = max(0, rate)
        self._next = 0.0  # when the bytes taken so far have been paid for, at the cap
        self._generation = 0  # a new cap ends every wait
        self._cond = threading.Condition()

    @property
    def rate(self) -> int:
        """Bytes a second; 0: no cap."""
        return self._rate

    def set(self, rate: int) -> None:
        with self._cond:
            self._rate = max(0, rate)
            self._next = time.monotonic()
            self._generation += 1
            self._cond.notify_all()

    def take(self, n: int, stop: threading.Event | None = None) -> None:
        """Pay for ``n`` bytes just read: wait until the cap allows them (at once without a cap, when ``stop``
        is set, or when the cap changes)."""
        if not self._rate:  # no cap: the hot path takes no lock (a cap set meanwhile holds from the next read)
            return
        with self._cond:
            if not self._rate:
                return
            now = time.monotonic()
            start = max(self._next, now - BURST)
            self._next = start + n / self._rate
            until, generation = self._next, self._generation
            while (left := until - time.monotonic()) > 0 and generation == self._generation:
                if stop is not None and stop.is_set():
                    return
                self._cond.wait(min(left, SLICE))
