"""Following the root's service across its lives, for a client that shows it all the time (the app)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .client import Client, ServiceError, connect
from .events import Event, StatusReply


@dataclass(frozen=True)
class Detached:
    """The service the watch was attached to ended (stopped, idle, killed)."""


@dataclass(frozen=True)
class WatchFailed:
    """The root's socket cannot be used: one line for the user."""

    error: str


class Watch:
    """``events`` yields each service's status as it attaches, its events, then ``Detached`` when it ends; between
    two services it looks for a new one every ``poll`` seconds, or at once after ``wake``."""

    def __init__(self, root: Path, poll: float = 1.0) -> None:
        self.root, self.poll = root, poll
        self.closed = threading.Event()
        self._wake = threading.Event()
        self._client: Client | None = None

    def events(self) -> Iterator[StatusReply | Event | Detached | WatchFailed]:
        while not self.closed.is_set():
            try:
                client = connect(self.root)
            except ServiceError as e:
                yield WatchFailed(str(e))
                client = None
                self.closed.wait(10 * self.poll)
            if client is None:
                self._wake.wait(self.poll)
                self._wake.clear()
                continue
            self._client = client
            try:
                with client:
                    yield from client.subscribe()
            except (OSError, ServiceError):
                pass  # the service went mid-line (killed): it is detached, as when it ends
            finally:
                self._client = None
            yield Detached()

    def wake(self) -> None:
        """Look for the service now (a client just started one)."""
        self._wake.set()

    def close(self) -> None:
        """End ``events`` at once, from any thread: the connection is shut, the service goes on."""
        self.closed.set()
        self._wake.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)
