"""The service's state and its read side: what it knows (every file, the planning, the jobs and their ends, the
controls), the status a client asks for, and the events a subscriber hears, sent a piece at a time and never
holding up the downloads."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..repos import RepoRef
from ..results import FileEvent
from ..settings import Settings
from .controls import ServiceControls
from .events import (
    ControlsChanged,
    Idle,
    JobResult,
    JobsEnded,
    PlanningChanged,
    StatusReply,
    Stopped,
    encode_event,
    status_head,
    with_files,
)
from .jobs import Job
from .protocol import PIECE, TICK
from .requests import PROTOCOL_VERSION
from .table import FileTable

CLIENT_IDLE = 60.0  # seconds a connection may keep silent before a request; a send to a subscriber may wait as long


class Feed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.table = FileTable()  # every file seen, and the order of their last changes
        self.seq = 0  # the number of the latest change
        self.planning: dict[RepoRef, str] = {}
        self.live: dict[int, Job] = {}  # submitted and not ended, by id
        self.ended: dict[int, int] = {}  # job id -> the change number at which it ended
        self.results: dict[int, JobResult] = {}  # job id -> how it ended
        self.controls = ServiceControls(settings.root, settings.max_rate)
        self.running = 0  # jobs submitted and not ended
        self.worked = threading.Event()  # stopping, and the worker has ended: every job's end is recorded
        self.subscribers = 0  # subscriptions that have not yet sent "stopped"

    def _head(self) -> tuple[dict[str, Any], int]:
        """The status but its files, and how many files there are now (``_send_files`` sends them)."""
        with self.lock:
            reply = StatusReply(os.getpid(), self.settings.endpoint, self.running > 0, self._planning(),
                                tuple(sorted(self.live)), dict(self.results), [], self.controls.snapshot(),
                                PROTOCOL_VERSION)
            return {**status_head(reply), "seq": self.seq}, len(self.table)

    def _planning(self) -> tuple[tuple[RepoRef, str], ...]:
        return tuple(self.planning.items())

    def _send_files(self, conn: socket.socket, head: dict[str, Any], rows: Sequence[int]) -> None:
        """``head`` with the FILEs of ``rows`` as one line, read under the lock a piece at a time and encoded and
        sent outside it: the downloads never wait on a long status, and it is never one string in memory."""
        def pieces() -> Iterator[list[FileEvent]]:
            for start in range(0, len(rows), PIECE):
                with self.lock:
                    files = [self.table.file(row) for row in rows[start:start + PIECE]]
                yield files

        for data in with_files(head, pieces()):
            conn.sendall(data)

    def _subscribe(self, conn: socket.socket) -> None:
        """A subscriber only listens: no read timeout (its end is peeked at), but a send that waits CLIENT_IDLE on
        a subscriber that stopped reading ends its subscription, never another's."""
        conn.settimeout(None)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(CLIENT_IDLE), 0))
        with self.lock:
            self.subscribers += 1
        try:
            self._events(conn)
        finally:
            with self.lock:
                self.subscribers -= 1

    def _events(self, conn: socket.socket) -> None:
        """A subscription's events until the service ends: once it stops, its jobs' ends (the files cancelled,
        the results) still go out before "stopped", so a client that only watched hears how they ended."""
        first, count = self._head()
        seen, was_busy, said = first["seq"], first["busy"], self._planning()
        controls = self.controls.snapshot()
        self._send_files(conn, first, range(count))
        if not was_busy:
            conn.sendall(encode_event(Idle()))
        while True:
            last = self.worked.is_set()  # every job has ended: this pass sends the last of them
            if not last:
                time.sleep(TICK)
            if _gone(conn):
                return
            with self.lock:
                changed = self.table.changed_since(seen)
                planning = self._planning()
                ended = {j: self.results[j] for j, at in self.ended.items() if at > seen and j in self.results}
                seen, busy = self.seq, self.running > 0
            if changed:
                self._send_files(conn, {"event": "files"}, changed)
            if planning != said:
                said = planning
                conn.sendall(encode_event(PlanningChanged(planning)))
            if (now := self.controls.snapshot()) != controls:
                controls = now
                conn.sendall(encode_event(ControlsChanged(now)))
            if ended:
                conn.sendall(encode_event(JobsEnded(ended)))
            if was_busy and not busy:
                conn.sendall(encode_event(Idle()))
            was_busy = busy
            if last:
                break
        conn.sendall(encode_event(Stopped()))


def _gone(conn: socket.socket) -> bool:
    """Whether a subscriber closed its end (it sends nothing after subscribing: any read is its end)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
