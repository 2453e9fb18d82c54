"""Coalescing high-rate progress for front ends: keep the latest event per key, deliver batches at most
every ``interval`` seconds, and never hold an event back longer than that."""

from __future__ import annotations

import threading
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
