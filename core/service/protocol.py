"""The service's protocol: JSON objects, one a line, over a Unix socket beside the root's lock (owner-only).

Requests are typed values (``requests.py``), read by the service through one strict decoder: an unknown op or
field, a field of the wrong type, a line over ``MAX_LINE`` (1 MiB) or nested too deep gets an error reply
(a line too long, its connection closed). At most ``MAX_CLIENTS`` connections at once; a connection silent for
``CLIENT_IDLE`` seconds before a request is closed. A client's first request is
``{"op": "hello", "version": N}`` -> ``{"ok": true, "version": N}``, or an error naming the service's version
(``stop`` skips it, so an old service can always be ended).

Requests, each answered by one line (``{"ok": false, "error": "one line"}`` when refused):

- ``{"op": "status"}`` -> ``{"ok": true, "service": "running", "pid": N, "endpoint": URL, "busy": bool,
  "planning": [[type, id, text], ...], "jobs": [ID, ...] (queued or running), "results": {ID: RESULT} (the
  latest jobs that ended), "files": [FILE, ...]}``
- ``{"op": "submit", "repos": [[type, id], ...], "profile": "full", "profiles": [[type, id, profile], ...],
  "fp32": false, "include": [...], "exclude": [...], "revision": null, "dependencies": true, "max_workers": 8,
  "cache": "off" | "read" | "write", "force": false, "connections": null}`` -> ``{"ok": true, "queued": N,
  "job": ID}``: the service plans (with its own settings: the token never crosses the socket; ``profiles``
  overrides ``profile`` per repo; ``cache`` is the listing cache's use; ``connections`` overrides the setting),
  then downloads; jobs run one after another. Short of disk space and without ``force``, the job fails every
  repo and its RESULT has ``"space": {"root", "needed", "to_fetch", "margin", "free"}``.
- ``{"op": "cancel"}`` -> ``{"ok": true, "jobs": [ID, ...]}``: everything queued or running stops; partial
  files are kept. ``"job": ID`` narrows it to that job; ``"repo": [type, id]`` to that repo's files and
  ``"repo"`` with ``"path": P`` to that one file (each ends ``cancelled``, the rest of its job runs on). Every
  file a cancel stops, in flight or queued, gets a FILE in state ``cancelled`` with the bytes kept.
- ``{"op": "stop"}`` -> ``{"ok": true}``: a cancel, then the service ends.
- ``{"op": "subscribe"}`` -> the status line, then events until the client goes: ``{"event": "files", "files":
  [FILE, ...]}`` (the files changed since the last one, at most every ``TICK`` s), ``{"event": "planning",
  "planning": [...]}``, ``{"event": "ended", "jobs": [ID, ...], "results": {ID: RESULT}}`` (RESULT: the keys of
  ``download --json``'s ``result``, and ``plan``: its plan as ``download --json`` prints it, once planned),
  ``{"event": "idle"}`` each time nothing is left queued or running, and ``{"event": "stopped"}`` when the service
  ends (after the files and ``ended`` of the jobs it stopped).

A FILE is ``{"repo_id", "repo_type", "path", "state", "done", "total", "rate", "message", "job", "connections"}``
(``connections``: the ranged connections open for a big file, 0 for one stream); a repo that
failed as a whole (not found, gated, no space) is one FILE with path ``""`` and state ``failed``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..local.safeio import private_folder

SOCKET_NAME = ".musicgen-tui.sock"
LOG_NAME = "musicgen-tui-service.log"
TICK = 0.2  # seconds between two events to a subscriber
PIECE = 2000  # files read (under the service's lock) and encoded at a time
MAX_PATH = 100  # a Unix socket's path holds 108 bytes on Linux
EXIT_HELD = 3  # a service's starter: the root's writer lock is held (another service, or a foreground download)


def socket_path(root: Path) -> Path:
    """The root's socket: in the root, or (a root whose path is too long for a socket) in an owner-only folder
    of the runtime directory, named after the root."""
    path = root / SOCKET_NAME
    if len(os.fsencode(path)) <= MAX_PATH:
        return path
    base = private_folder(Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
                          / f"musicgen-tui-{os.getuid()}")
    return base / (hashlib.sha256(os.fsencode(root)).hexdigest()[:24] + ".sock")


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def encode_files(head: dict[str, Any], pieces: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    """One line: ``head`` with a ``files`` list, in pieces as the files come (a status of 300,000 files is
    never one string)."""
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    yield (text[:-1] + ("," if head else "") + '"files":[').encode()
    sep = ""
    for files in pieces:
        if files:
            yield (sep + json.dumps(files, ensure_ascii=False, separators=(",", ":"))[1:-1]).encode()
            sep = ","
    yield b"]}\n"


def decode(line: bytes) -> dict[str, Any]:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
