"""The download service of one root: holds the root's writer lock, listens on the root's socket, plans and
runs what clients submit with the same core downloader, and ends on ``stop`` or once nothing has been queued,
running or connected for ``idle_exit`` seconds. Every client is a thread that costs nothing once it goes."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from ..hub.download import FileEvent
from ..hub.errors import describe
from ..local.lock import root_lock
from ..settings import Settings
from .jobs import Job, run_job
from .protocol import PIECE, TICK, encode, encode_files, socket_path
from .requests import (
    MAX_LINE,
    PROTOCOL_VERSION,
    Cancel,
    Hello,
    ProtocolError,
    Status,
    Stop,
    Submit,
    Subscribe,
    decode_request,
)
from .table import FileTable

log = logging.getLogger("musicgen_tui.service")
STOP_WITHIN = 1.9  # seconds from the end of listening to the end of a stopping service, whatever it was doing
WORKER_GRACE = 1.0  # of which the worker has this long to stop (a download stops at its next read, at once)
MAX_CLIENTS = 64  # connections at once; one more is told so and closed
CLIENT_IDLE = 60.0  # seconds a connection may keep silent before a request (a subscriber only listens: exempt)
KEEP_RESULTS = 50  # the results of the latest jobs, in every status: a client that came late still reads its own


class Service:
    def __init__(self, settings: Settings, idle_exit: float | None = None) -> None:
        self.settings = settings
        self.idle_exit = settings.service_idle if idle_exit is None else idle_exit
        self.lock = threading.Lock()
        self.table = FileTable()  # every file seen, and the order of their last changes
        self.seq = 0
        self.planning: dict[tuple[str, str], str] = {}
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.live: dict[int, Job] = {}  # submitted and not ended, by id
        self.ended: dict[int, int] = {}  # job id -> the change number at which it ended
        self.results: dict[int, dict[str, Any]] = {}  # job id -> its result (``RunResult.data``)
        self.next_id = 1
        self.running = 0  # jobs submitted and not ended
        self.clients = 0
        self.idle_since = time.monotonic()
        self.stopping = threading.Event()
        self.worked = threading.Event()  # stopping, and the worker has ended: every job's end is recorded
        self.subscribers = 0  # subscriptions that have not yet sent "stopped"

    # --- life -----------------------------------------------------------------------------------
    def serve(self, on_ready: Callable[[], object] | None = None) -> None:
        """Run until ``stop`` or idle; ``on_ready`` hears that the socket listens. Raises ``LockHeld`` when another
        process downloads into the root (a second service, or a foreground ``download --run``)."""
        with root_lock(self.settings.root):
            path = socket_path(self.settings.root)
            path.unlink(missing_ok=True)  # we hold the lock: any socket left here is a dead service's
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                server.bind(str(path))
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
            server.listen(2 * MAX_CLIENTS)  # a burst of clients waits in the queue, never refused by it
            server.settimeout(0.25)
            worker = threading.Thread(target=self._work, name="service-worker", daemon=True)
            worker.start()
            log.info("service %d listening on %s", os.getpid(), path)
            if on_ready is not None:
                on_ready()
            try:
                while not self.stopping.is_set() and not self._idle_over():
                    try:
                        conn, _ = server.accept()
                    except TimeoutError:
                        continue
                    threading.Thread(target=self._client, args=(conn,), daemon=True).start()
            finally:
                deadline = time.monotonic() + STOP_WITHIN
                server.close()
                path.unlink(missing_ok=True)
                self.stopping.set()
                self._cancel(None)
                worker.join(WORKER_GRACE)  # a download stops at its next read; the lock is released after it
                if worker.is_alive():  # blocked on a Hub that does not answer (planning): it dies with the process
                    log.warning("the worker was still waiting on the Hub; its job ends with the service")
                self.worked.set()
                self._await_subscribers(deadline - time.monotonic())
                log.info("service %d ended", os.getpid())

    def _await_subscribers(self, timeout: float) -> None:
        """Give each subscription the time to send the last files and job ends, then "stopped"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.subscribers:
                    return
            time.sleep(0.02)

    def _idle_over(self) -> bool:
        with self.lock:
            idle = not self.running and self.jobs.empty() and not self.clients
            return idle and time.monotonic() - self.idle_since >= self.idle_exit

    def _touch(self) -> None:
        self.idle_since = time.monotonic()

    # --- the work ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self.jobs.get(timeout=0.25)
            except queue.Empty:
                continue
            result: dict[str, Any] = {"ok": False, "cancelled": True, "bytes_fetched": 0, "repos": []}
            try:
                if not job.cancel.is_set():
                    result = run_job(job, self.settings, self.lock,
                                     on_event=partial(self._on_event, job=job.id),
                                     on_planning=self._planned, on_planned=self._planning_over)
            except Exception as e:  # a bug: said in the log and in the status, never the end of the service
                log.exception("job failed")
                self._planned("", "", f"failed: {describe(e, token=self.settings.token)}")
                result["error"] = describe(e, token=self.settings.token)
            finally:
                with self.lock:
                    self.running -= 1
                    self.live.pop(job.id, None)
                    self.seq += 1
                    self.ended[job.id] = self.seq
                    self.results[job.id] = result
                    while len(self.results) > KEEP_RESULTS:
                        del self.results[next(iter(self.results))]
                    self._touch()

    def _planned(self, repo_type: str, repo_id: str, text: str) -> None:
        with self.lock:
            self.planning[(repo_type, repo_id)] = text
            self.seq += 1

    def _planning_over(self) -> None:
        with self.lock:
            self.planning.clear()

    def _on_event(self, e: FileEvent, job: int) -> None:
        with self.lock:
            self.seq += 1
            self.table.put(e, job, self.seq)

    # --- the clients ------------------------------------------------------------------------------
    def _client(self, conn: socket.socket) -> None:
        """One connection: its requests, each read through the strict decoder, until it goes, subscribes, stops
        the service, sends a line over MAX_LINE, or says nothing for CLIENT_IDLE seconds. A misbehaving client
        gets its error and never holds up another."""
        with self.lock:
            self.clients += 1
            full = self.clients > MAX_CLIENTS
        try:
            conn.settimeout(CLIENT_IDLE)
            with conn, conn.makefile("rb") as lines:
                if full:
                    conn.sendall(encode({"ok": False, "error": f"the service has {MAX_CLIENTS} clients: try again"}))
                    return
                if not self._same_user(conn):
                    conn.sendall(encode({"ok": False, "error": "refused: not the service's user"}))
                    return
                while line := lines.readline(MAX_LINE + 1):
                    if len(line) > MAX_LINE:  # no newline within the cap: the rest cannot be told from a request
                        conn.sendall(encode({"ok": False, "error": f"request line over {MAX_LINE} bytes"}))
                        return
                    try:
                        request = decode_request(line)
                    except ProtocolError as e:
                        conn.sendall(encode({"ok": False, "error": str(e)}))
                        continue
                    if isinstance(request, Subscribe):
                        self._subscribe(conn)
                        return
                    if isinstance(request, Status):
                        head, count = self._head()
                        self._send_files(conn, head, range(count))
                        continue
                    conn.sendall(encode(self._answer(request)))
                    if isinstance(request, Stop):
                        return
        except OSError:
            pass  # the client went, or kept silent too long: nothing to do for it
        finally:
            with self.lock:
                self.clients -= 1
                self._touch()

    @staticmethod
    def _same_user(conn: socket.socket) -> bool:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return uid == os.getuid()

    def _answer(self, request: Hello | Submit | Cancel | Stop) -> dict[str, Any]:
        if isinstance(request, Hello):
            if request.version != PROTOCOL_VERSION:
                return {"ok": False, "version": PROTOCOL_VERSION,
                        "error": f"protocol {request.version} is not this service's {PROTOCOL_VERSION}"}
            return {"ok": True, "version": PROTOCOL_VERSION}
        if isinstance(request, Submit):
            if request.token != self.settings.token_id:
                return {"ok": False, "error": "this root's download service runs with another HF_TOKEN than yours "
                                              "(it never uses a token silently): `musicgen-tui stop` ends it, "
                                              "and the next download starts one with yours"}
            with self.lock:
                job = Job(self.next_id, request)
                self.next_id += 1
                self.live[job.id] = job
                self.running += 1
                self.jobs.put(job)
                queued = self.running
            return {"ok": True, "queued": queued, "job": job.id}
        if isinstance(request, Cancel):
            drop = None if request.repo is None else (request.repo.repo_type, request.repo.repo_id, request.path)
            return {"ok": True, "jobs": self._cancel(request.job, drop)}
        found = self._cancel(None)
        self.stopping.set()
        return {"ok": True, "jobs": found}

    def _cancel(self, job_id: int | None, drop: tuple[str, str, str | None] | None = None) -> list[int]:
        """One job (queued or running), or every job; with ``drop``, only that repo (path None) or file of them.
        What stops keeps its partial files. Returns the jobs it reached."""
        found = []
        with self.lock:
            for job in self.live.values():
                if job_id is not None and job.id != job_id:
                    continue
                found.append(job.id)
                if drop is None:
                    job.cancel.set()
                    continue
                job.drops.append(drop)
                if job.downloader is not None:
                    job.downloader.drop(*drop)
        return found

    def _head(self) -> tuple[dict[str, Any], int]:
        """The status but its files, and how many files there are now (``_send_files`` sends them)."""
        with self.lock:
            return {"ok": True, "service": "running", "pid": os.getpid(), "endpoint": self.settings.endpoint,
                    "busy": self.running > 0, "planning": self._planning(),
                    "jobs": sorted(self.live), "results": {str(j): r for j, r in self.results.items()},
                    "seq": self.seq}, len(self.table)

    def _planning(self) -> list[list[str]]:
        return [[t, i, text] for (t, i), text in self.planning.items()]

    def _send_files(self, conn: socket.socket, head: dict[str, Any], rows: Sequence[int]) -> None:
        """``head`` with the FILEs of ``rows`` as one line, read under the lock a piece at a time and encoded and
        sent outside it: the downloads never wait on a long status, and it is never one string in memory."""
        def pieces() -> Iterator[list[dict[str, Any]]]:
            for start in range(0, len(rows), PIECE):
                with self.lock:
                    files = [self.table.file(row) for row in rows[start:start + PIECE]]
                yield files

        for data in encode_files(head, pieces()):
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
        seen, was_busy, said = first["seq"], first["busy"], first["planning"]
        self._send_files(conn, first, range(count))
        if not was_busy:
            conn.sendall(encode({"event": "idle"}))
        while True:
            last = self.worked.is_set()  # every job has ended: this pass sends the last of them
            if not last:
                time.sleep(TICK)
            if _gone(conn):
                return
            with self.lock:
                changed = self.table.changed_since(seen)
                planning = self._planning()
                ended = [j for j, at in self.ended.items() if at > seen]
                results = {str(j): self.results.get(j) for j in ended}
                seen, busy = self.seq, self.running > 0
            if changed:
                self._send_files(conn, {"event": "files"}, changed)
            if planning != said:
                said = planning
                conn.sendall(encode({"event": "planning", "planning": planning}))
            if ended:
                conn.sendall(encode({"event": "ended", "jobs": ended, "results": results}))
            if was_busy and not busy:
                conn.sendall(encode({"event": "idle"}))
            was_busy = busy
            if last:
                break
        conn.sendall(encode({"event": "stopped"}))


def _gone(conn: socket.socket) -> bool:
    """Whether a subscriber closed its end (it sends nothing after subscribing: any read is its end)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False


def run_service(settings: Settings, idle_exit: float | None = None,
                on_ready: Callable[[], object] | None = None) -> None:
    """The service's main: detached from any terminal (a hang-up is ignored), ``SIGTERM`` stops it as ``stop``."""
    service = Service(settings, idle_exit)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def on_term(*_: object) -> None:
        service._cancel(None)
        service.stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    with contextlib.suppress(KeyboardInterrupt):
        service.serve(on_ready)
