"""A client of the root's download service: connect (cleaning a dead service's socket), start one detached
when none runs, and speak the protocol (``protocol``)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..local.lock import read_holder
from ..local.safeio import open_append, process_alive
from .events import (
    Accepted,
    ChecksMade,
    Chore,
    Cleaned,
    ControlsChanged,
    Done,
    Event,
    ExportDone,
    FilesChanged,
    FilesQueued,
    Idle,
    JobsEnded,
    PlanningChanged,
    Refused,
    Reply,
    StatusReply,
    Stopped,
    Verified,
    Working,
    decode,
    dumps,
)
from .protocol import EXIT_HELD, LOG_NAME, socket_path
from .requests import (
    PROTOCOL_VERSION,
    Export,
    Hello,
    Prune,
    Remove,
    Request,
    Status,
    Stop,
    Submit,
    Subscribe,
    Verify,
    encode_request,
)

if TYPE_CHECKING:
    from ..settings import Settings

START_WAIT = 15.0  # seconds a starting service has to open its socket
SOCKET_GRACE = 1.0  # seconds from a service's lock to its socket, at most, on a busy machine


class ServiceError(Exception):
    """The service could not be reached or refused a request: the message is one line for the user."""


class RootHeld(ServiceError):
    """A new service could not start: another process holds the root's writer lock (a service that another
    client started a moment ago, or a foreground ``download --run``)."""


class Client:
    """One connection to the root's service: typed requests in, typed replies and events out (``events``)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lines = sock.makefile("rb")

    def request(self, request: Request) -> Reply:
        """One request and its reply; a refusal raises ``ServiceError`` with the service's words."""
        self.sock.sendall(dumps(encode_request(request)))
        reply = self._next()
        if not isinstance(reply, StatusReply | Accepted | Done):
            raise ServiceError("the download service answered out of turn")
        return reply

    def status(self) -> StatusReply:
        reply = self.request(Status())
        if not isinstance(reply, StatusReply):
            raise ServiceError("the download service answered out of turn")
        return reply

    def submit(self, request: Submit, settings: Settings) -> Accepted:
        """Hand the service a job, with the fingerprint of this client's token: a service started with another
        token refuses it in one line instead of downloading with the wrong one."""
        reply = self.request(replace(request, token=settings.token_id))
        if not isinstance(reply, Accepted):
            raise ServiceError("the download service answered out of turn")
        return reply

    def subscribe(self) -> Iterator[StatusReply | Event]:
        """The status, then the service's events, until it ends or closes the connection."""
        self.sock.settimeout(None)
        self.sock.sendall(dumps(encode_request(Subscribe())))
        while (message := self._read()) is not None:
            if not isinstance(message, StatusReply | FilesChanged | PlanningChanged | JobsEnded | ControlsChanged
                              | Idle | Stopped):
                raise ServiceError("the download service sent a subscriber something else")
            yield message

    def chore(self, request: Verify | Export | Remove | Prune) -> Iterator[Chore]:
        """A verify's, an export's, a remove's or a prune's progress, then its end (the last one yielded)."""
        self.sock.sendall(dumps(encode_request(request)))
        while True:
            message = self._next()
            if isinstance(message, Working):
                continue  # alive, still at it
            if not isinstance(message, FilesQueued | ChecksMade | Verified | ExportDone | Cleaned):
                raise ServiceError("the download service answered out of turn")
            yield message
            if isinstance(message, Verified | ExportDone | Cleaned):
                return

    def raw(self, message: dict[str, Any]) -> dict[str, Any]:
        """One request as a JSON object and the answer as one, unchecked: for probes of the protocol itself."""
        self.sock.sendall(dumps(message))
        line = self.lines.readline()
        if not line:
            raise ServiceError("the download service closed the connection")
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ServiceError("the download service sent a line that is not a JSON object")
        return data

    def _next(self) -> Reply | Event | Chore:
        message = self._read()
        if message is None:
            raise ServiceError("the download service closed the connection")
        return message

    def _read(self) -> Reply | Event | Chore | None:
        line = self.lines.readline()
        if not line:
            return None
        try:
            return decode(line)
        except Refused as e:
            raise ServiceError(str(e)) from None
        except ValueError as e:
            raise ServiceError(str(e)) from None

    def close(self) -> None:
        self.lines.close()
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(root: Path, timeout: float = 5.0, *, handshake: bool = True) -> Client | None:
    """The running service of ``root``, or None. A socket nobody listens on is left where it is: a dead service's
    (the next service removes it, holding the root's lock) or a service's between its bind and its listen, which
    a client must never unlink. A socket that is not the user's own, owner-only one is refused
    (``ServiceError``)."""
    path = socket_path(root)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ServiceError(f"{path} is not an owner-only socket of this user: remove it if it is not yours")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        return None
    except OSError as e:
        sock.close()
        raise ServiceError(f"cannot reach the download service at {path}: {e.strerror or e}") from None
    client = Client(sock)
    if handshake:
        _hello(client, root)
    return client


def _hello(client: Client, root: Path) -> None:
    """Say this client's protocol version; a service that speaks another one is named, with the fix (``stop``
    talks to any service: it skips this)."""
    try:
        client.request(Hello(PROTOCOL_VERSION))
    except ServiceError:
        client.close()
        raise ServiceError(f"this root's download service speaks another protocol than this musicgen-tui "
                           f"({PROTOCOL_VERSION}): `musicgen-tui --root {shlex.quote(str(root))} stop` ends it "
                           "(partial files are kept), and the next command starts a new one") from None
    except (OSError, ValueError):
        client.close()
        raise ServiceError("the download service did not answer its greeting") from None


def start(root: Path, settings: Settings | None = None) -> None:
    """A new service for ``root``, in its own session without a terminal (a hang-up never reaches it), once it
    listens. It reads the settings itself (``.env``, the environment, where ``settings`` are the starting
    client's) and logs to ``musicgen-tui-service.log`` in the root."""
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if settings is not None:
        env.pop("HF_TOKEN", None)
        env.update(settings.environ())
    with open_append(root / LOG_NAME) as log:  # a planted symlink is refused, never appended to
        starter = subprocess.Popen([sys.executable, "-m", "core.service", "--root", str(root)], env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        code = starter.wait(START_WAIT)
    except subprocess.TimeoutExpired:
        starter.kill()
        starter.wait()
        raise ServiceError(f"the download service did not start within {START_WAIT:.0f} s "
                           f"(see {root / LOG_NAME})") from None
    if code == EXIT_HELD:
        raise RootHeld(_last_line(root / LOG_NAME))
    if code != 0:
        raise ServiceError(f"the download service did not start: {_last_line(root / LOG_NAME)}")


def ensure(root: Path, settings: Settings | None = None) -> Client:
    """The root's service, started (with ``settings``, see ``start``) when none runs."""
    client = connect(root)
    if client is None:
        try:
            start(root, settings)
        except RootHeld:  # clients started at the same moment: one service won, and is about to listen
            client = _await_service(root, START_WAIT)
            if client is None:
                raise
            return client
        client = connect(root)
    if client is None:
        raise ServiceError(f"the download service started but cannot be reached (see {root / LOG_NAME})")
    return client


def _await_service(root: Path, wait: float) -> Client | None:
    """The root's service once it listens, within ``wait`` seconds; None when none comes: no socket appeared
    within SOCKET_GRACE (the lock's holder is a foreground download, not a service)."""
    started = time.monotonic()
    path = socket_path(root)
    holder = read_holder(root)
    if holder is not None and holder.elsewhere:  # a service of another host: its socket is not for this one
        return None
    while (now := time.monotonic()) < started + wait:
        client = connect(root)
        if client is not None:
            return client
        if now - started > SOCKET_GRACE and not path.exists():
            return None
        time.sleep(0.05)
    return None


def stop(root: Path, wait: float = 60.0) -> bool | None:
    """Stop the root's service: its downloads are cancelled (partial files kept), and it ends. None when no
    service runs; else whether its process ended within ``wait`` seconds (the root's lock released with it)."""
    client = connect(root, handshake=False)  # any service, of any version, can be stopped
    if client is None:
        return None
    with client:
        pid = client.raw(encode_request(Status())).get("pid")  # read unchecked: any version's service is stopped
        client.raw(encode_request(Stop()))
    if not isinstance(pid, int):
        return False
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def other_settings(status: StatusReply, settings: Settings) -> str | None:
    """What a client should hear when the running service, started by another client, uses another endpoint."""
    endpoint = status.endpoint
    if not endpoint or endpoint == settings.endpoint:
        return None
    return (f"this root's download service uses {endpoint}, not {settings.endpoint}: `musicgen-tui stop` ends it, "
            "and the next download starts one with these settings")


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no log"  # the starter writes the reason last


def held_by(root: Path, held: Exception) -> str:
    """The one line for a root whose writer lock is held: when the holder is the root's service, what to do about
    it; else the lock's own message."""
    try:
        client = connect(root, timeout=1.0)
    except ServiceError:
        client = None
    if client is None:
        return str(held)
    with client:
        try:
            pid = client.status().pid
        except (ServiceError, OSError):
            return str(held)
    return (f"the download service of this root (pid {pid}) is downloading into it: watch it with "
            "`musicgen-tui status --follow`, end it with `musicgen-tui stop`, or hand it this download with "
            "`musicgen-tui download … --run`")
