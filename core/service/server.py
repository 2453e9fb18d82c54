"""The download service of one root: holds the root's writer lock, listens on the root's socket, plans and
runs what clients submit with the same core downloader, and ends on ``stop`` or once nothing has been queued,
running or connected for ``idle_exit`` seconds. Every client is a thread that costs nothing once it goes."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from functools import partial

from ..hub.errors import describe
from ..local.lock import root_lock
from ..repos import RepoRef
from ..results import FileEvent, RunResult
from ..settings import Settings
from .chores import stream_clean, stream_export, stream_verify
from .events import (
    Accepted,
    Chore,
    Controls,
    Done,
    JobResult,
    Working,
    encode_chore,
    encode_reply,
    refusal,
)
from .feed import CLIENT_IDLE, Feed
from .hook import run_hooks
from .jobs import Job, run_job
from .protocol import socket_path
from .requests import (
    MAX_LINE,
    PROTOCOL_VERSION,
    Cancel,
    Export,
    Hello,
    Limit,
    Pause,
    Priority,
    ProtocolError,
    Prune,
    Remove,
    Resume,
    Status,
    Stop,
    Submit,
    Subscribe,
    Verify,
    decode_request,
)

log = logging.getLogger("musicgen_tui.service")
STOP_WITHIN = 1.9  # seconds from the end of listening to the end of a stopping service, whatever it was doing
WORKER_GRACE = 1.0  # of which the worker has this long to stop (a download stops at its next read, at once)
MAX_CLIENTS = 64  # connections at once; one more is told so and closed
KEEP_RESULTS = 50  # the results of the latest jobs, in every status: a client that came late still reads its own


class Service(Feed):
    """The service: its life, its worker, its clients' requests (``Feed`` holds the state and sends it)."""

    def __init__(self, settings: Settings, idle_exit: float | None = None) -> None:
        super().__init__(settings)
        self.idle_exit = settings.service_idle if idle_exit is None else idle_exit
        self.waiting: list[Job] = []  # submitted, not started: the best-placed (``priority``) goes first
        self.chores = threading.Lock()  # one verify or export at a time
        self.next_id = 1
        self.clients = 0
        self.idle_since = time.monotonic()
        self.stopping = threading.Event()

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
            idle = not self.running and not self.waiting and not self.clients
            return idle and time.monotonic() - self.idle_since >= self.idle_exit

    def _touch(self) -> None:
        self.idle_since = time.monotonic()

    # --- the work ---------------------------------------------------------------------------------
    def _next_job(self) -> Job | None:
        with self.lock:
            if not self.waiting:
                return None
            job = min(self.waiting, key=lambda j: (self.controls.rank(j.request.repos), j.id))
            self.waiting.remove(job)
            return job

    def _work(self) -> None:
        """Start the queued jobs one after another: the next once the last has ended, or once every job running is
        held by a pause (all its files left are paused, none in flight), so a paused repo never blocks the rest."""
        running: list[threading.Thread] = []
        while not self.stopping.is_set():
            running = [t for t in running if t.is_alive()]
            with self.lock:
                queued = {j.id for j in self.waiting}
                held = all(j.downloader is not None and j.downloader.held for j in self.live.values()
                           if j.id not in queued)
            job = self._next_job() if not running or held else None
            if job is None:
                self.stopping.wait(0.1)
                continue
            thread = threading.Thread(target=self._run, args=(job,), name=f"job-{job.id}", daemon=True)
            running.append(thread)
            thread.start()
        deadline = time.monotonic() + WORKER_GRACE
        for t in running:  # cancelled with the service: each stops at its next read
            t.join(max(0.0, deadline - time.monotonic()))

    def _run(self, job: Job) -> None:
        result = JobResult(RunResult([], cancelled=True))
        try:
            if not job.cancel.is_set():
                result = run_job(job, self.settings, self.lock, self.controls.steering,
                                 on_event=partial(self._on_event, job=job.id),
                                 on_planning=self._planned, on_planned=self._planning_over)
        except Exception as e:  # a bug: said in the log and in the status, never the end of the service
            log.exception("job failed")
            self._planned("", "", f"failed: {describe(e, token=self.settings.token)}")
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
        run_hooks(self.settings.on_done, self.settings.root, result.run)

    def _planned(self, repo_type: str, repo_id: str, text: str) -> None:
        if not repo_type:
            log.warning("%s", text)  # a job's failure outside any repo: its result says it too
            return
        with self.lock:
            self.planning[RepoRef(repo_type, repo_id)] = text  # type: ignore[arg-type]
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
                    conn.sendall(refusal(f"the service has {MAX_CLIENTS} clients: try again"))
                    return
                if not self._same_user(conn):
                    conn.sendall(refusal("refused: not the service's user"))
                    return
                while line := lines.readline(MAX_LINE + 1):
                    if len(line) > MAX_LINE:  # no newline within the cap: the rest cannot be told from a request
                        conn.sendall(refusal(f"request line over {MAX_LINE} bytes"))
                        return
                    try:
                        request = decode_request(line)
                    except ProtocolError as e:
                        conn.sendall(refusal(str(e)))
                        continue
                    if isinstance(request, Subscribe):
                        self._subscribe(conn)
                        return
                    if isinstance(request, Status):
                        head, count = self._head()
                        self._send_files(conn, head, range(count))
                    elif isinstance(request, Verify | Export | Remove | Prune):
                        conn.sendall(self._chore(conn, request))
                    else:
                        conn.sendall(self._answer(request))
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

    def _answer(self, request: Hello | Submit | Cancel | Stop | Limit | Pause | Resume | Priority) -> bytes:
        if isinstance(request, Hello):
            if request.version != PROTOCOL_VERSION:
                return refusal(f"protocol {request.version} is not this service's {PROTOCOL_VERSION}",
                               version=PROTOCOL_VERSION)
            return encode_reply(Done(version=PROTOCOL_VERSION))
        if isinstance(request, Submit):
            return self._submit(request)
        if isinstance(request, Cancel):
            drop = None if request.repo is None else (request.repo.repo_type, request.repo.repo_id, request.path)
            return encode_reply(Done(tuple(self._cancel(request.job, drop))))
        if isinstance(request, Limit | Pause | Resume | Priority):
            return encode_reply(Done(controls=self._control(request)))
        found = self._cancel(None)
        self.stopping.set()
        return encode_reply(Done(tuple(found)))

    def _submit(self, request: Submit) -> bytes:
        if request.token != self.settings.token_id:
            return refusal("this root's download service runs with another HF_TOKEN than yours (it never uses a "
                           "token silently): `musicgen-tui stop` ends it, and the next download starts one with yours")
        if request.max_rate is not None:
            self._control(Limit(request.max_rate))
        with self.lock:
            job = Job(self.next_id, request)
            self.next_id += 1
            self.live[job.id] = job
            self.running += 1
            self.waiting.append(job)
            queued = self.running
        return encode_reply(Accepted(job.id, queued))

    def _control(self, request: Limit | Pause | Resume | Priority) -> Controls:
        controls = self.controls.apply(request)
        with self.lock:
            self.seq += 1  # subscribers hear the controls at their next tick
        log.info("%s", type(request).__name__.lower() + (f" {request.max_rate}" if isinstance(request, Limit) else ""))
        return controls

    def _in_use(self) -> set[tuple[str, str]]:
        """``(repo_type, repo_id)`` of every repo a queued or running job holds: asked for, or planned."""
        with self.lock:
            jobs = list(self.live.values())
        held = {(r.repo_type, r.repo_id) for job in jobs for r in (*job.request.repos,
                                                                     *(ref for ref, _ in job.request.profiles))}
        return held | {key for job in jobs if job.downloader is not None for key in job.downloader.planned}

    def _chore(self, conn: socket.socket, request: Verify | Export | Remove | Prune) -> bytes:
        """A verify or an export for a client, one at a time (another client's waits its turn), its progress
        streamed; the answer is its end. The client going stops a verify at its next file."""
        def send(message: Chore) -> None:
            conn.sendall(encode_chore(message))

        cancel = threading.Event()
        while not self.chores.acquire(timeout=1.0):  # another client's chore runs: this one waits, and says so
            send(Working())
        try:
            if self.stopping.is_set():
                return refusal("the download service is stopping")
            try:
                if isinstance(request, Verify):
                    return encode_chore(stream_verify(self.settings.root, request, send, cancel))
                if isinstance(request, Remove | Prune):
                    in_use = self._in_use()
                    held = {(t, i.lower()) for t, i in in_use}
                    busy = [r for r in request.repos if (r.repo_type, r.repo_id.lower()) in held] \
                        if isinstance(request, Remove) else []
                    if busy:
                        return refusal(f"{busy[0].repo_id} is being downloaded by this root's service: cancel it "
                                       f"first (musicgen-tui cancel --{busy[0].repo_type} {busy[0].repo_id})")
                    return encode_chore(stream_clean(self.settings.root, request, send, self.settings.catalog_file,
                                                     in_use))
                return encode_chore(stream_export(self.settings.root, request, self.settings.checksum_min, send))
            except Exception as e:  # a planted link, a full disk: one line to the client, the service goes on
                log.warning("%s failed: %s", type(request).__name__.lower(), describe(e, token=self.settings.token),
                            exc_info=not isinstance(e, OSError))  # a bug's traceback, for its report
                return refusal(f"{type(request).__name__.lower()} failed: {describe(e, token=self.settings.token)}")
        finally:
            self.chores.release()

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
