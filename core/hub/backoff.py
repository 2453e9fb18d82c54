"""One backoff for every request to the Hub, API calls and downloads alike: exponential from half a second to
eight, or what the server asked for (``Retry-After``, the Hub's ``RateLimit`` ``t=``), always cancellable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from .errors import describe, is_transient, retry_after

BACKOFF_START, BACKOFF_MAX = 0.5, 8.0
T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a worker when the run is cancelled."""


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
