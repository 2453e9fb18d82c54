"""One backoff for every request to the Hub, API calls and downloads alike: exponential from half a second to
eight, or what the server asked for (``Retry-After``, the Hub's ``RateLimit`` ``t=``), always cancellable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import describe, is_transient, retry_after

BACKOFF_START, BACKOFF_MAX = 0.5, 8.0
T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a worker when the run is cancelled."""


class FileStop(threading.Event):
    """One file's own cancel, which the run's cancel sets too (a file cancelled alone, or with its run)."""

    def __init__(self, run: threading.Event) -> None:
        super().__init__()
        self.run = run

    def is_set(self) -> bool:
        return super().is_set() or self.run.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.1 if end is None else min(0.1, end - time.monotonic())
            if left <= 0:
                return False
            super().wait(left)
        return True


class Backoff:
    """The pause before each next try; ``pause`` raises ``Cancelled`` when ``cancel`` is set meanwhile."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.cancel = cancel or threading.Event()
        self.delay = BACKOFF_START

    def seconds(self, exc: BaseException) -> float:
        return retry_after(exc) or self.delay

    def pause(self, exc: BaseException) -> None:
        seconds = self.seconds(exc)
        self.delay = min(self.delay * 2, BACKOFF_MAX)
        if self.cancel.wait(seconds):
            raise Cancelled()


def retrying(call: Callable[[], T], *, tries: int, endpoint: str | None, token: str | None = None,
             cancel: threading.Event | None = None,
             on_retry: Callable[[str, float], object] | None = None) -> T:
    """``call()``, tried up to ``tries`` times while it fails with a transient error; ``on_retry(message,
    seconds)`` hears each pause. The last error is raised as it was."""
    backoff = Backoff(cancel)
    for attempt in range(1, max(1, tries) + 1):
        try:
            return call()
        except Exception as e:
            if attempt >= tries or not is_transient(e, endpoint):
                raise
            if on_retry is not None:
                on_retry(describe(e, token=token, endpoint=endpoint), backoff.seconds(e))
            backoff.pause(e)
    raise AssertionError("unreachable")
