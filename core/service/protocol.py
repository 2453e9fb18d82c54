"""The service's protocol: JSON objects, one a line, over a Unix socket beside the root's lock (owner-only).

Every message is a typed value with one encoder and one strict decoder: requests in ``requests.py`` (the service
reads them), replies and events in ``events.py`` (every client reads them). An unknown op or field, a field of
the wrong type, a line over ``MAX_LINE`` (1 MiB) or nested too deep gets an error reply (a line too long, its
connection closed). At most ``MAX_CLIENTS`` connections at once; a connection silent for ``CLIENT_IDLE`` seconds
before a request is closed. A client's first request is ``{"op": "hello", "version": N}`` -> ``{"ok": true,
"version": N}``, or an error naming the service's version (``stop`` skips it, so an old service can always be ended).

Requests, each answered by one line (``{"ok": false, "error": "one line"}`` when refused):

- ``status`` -> ``{"ok": true, "service": "running", "pid", "endpoint", "busy", "planning": [[type, id, text],
  ...], "jobs": [ID, ...] (queued or running), "results": {ID: RESULT} (the latest jobs that ended), "controls":
  CONTROLS, "version", "files": [FILE, ...]}``
- ``submit`` with ``repos`` ([[type, id], ...]), ``profile``, ``profiles`` ([[type, id, profile], ...]), ``fp32``,
  ``include``, ``exclude``, ``revision``, ``dependencies``, ``max_workers``, ``cache`` ("off" | "read" | "write"),
  ``force``, ``connections``, ``token`` (a fingerprint of the client's token, never the token), ``max_rate``
  (the service's cap from now on) and ``lock`` (a lock file's absolute path: the job restores its exact set;
  version 3) -> ``{"ok": true, "job": ID, "queued": N}``. The service plans with its own
  settings, then downloads; jobs run one after another, the best-placed first (``priority``). Short of disk space
  and without ``force``, the job fails every repo and its RESULT has ``"space": {"root", "needed", "to_fetch",
  "margin", "free"}``.
- ``cancel`` (optionally ``job``; ``repo`` [type, id]; ``repo`` and ``path``) -> ``{"ok": true, "jobs": [ID, ...]}``:
  what it reaches stops, its partial files kept; every file it stops gets a FILE in state ``cancelled``.
- ``stop`` -> ``{"ok": true, "jobs": [...]}``: a cancel of everything, then the service ends.
- ``limit`` (``max_rate``: bytes a second, 0 none), ``pause`` / ``resume`` (optionally ``repo``), ``priority``
  (``repo``, ``place``: "first" | "last") -> ``{"ok": true, "jobs": [], "controls": CONTROLS}``. Paused files
  keep their bytes, hold no connection and read ``paused``; pauses are kept in the root across restarts.
- ``verify`` (``repos``, ``full``) -> lines ``{"event": "queued", "files": [[id, type, path], ...]}`` and
  ``{"event": "checks", "checks": [CHECK, ...]}`` (at least one a second), then ``{"ok": true, "verified": REPORT
  + "repos": [[type, id], ...], "report_path": P | null}``.
- ``export`` (``inventories``, ``checksums``, ``checksum_min``, ``views``, ``lock``) -> ``{"ok": true, "exported":
  {"inventories": {kind: path}, "checksums": [{"path", "entries", "bytes"}], "repos": [ROW, ...], "combined":
  INVENTORY, "unwritable": WHY, "views": SUMMARY, "lock": PATH, "lock_problems": [CHECK, ...]}}`` (``views``:
  refresh the loaders' runtime views, version 2; ``lock``: verify the root, then write ``musicgen.lock`` when no
  problem was found, else name them, version 3).
- ``remove`` (``repos``: ``[[type, id], ...]``, ``dry_run``) and ``prune`` (``dry_run``) -> ``working`` lines, then
  ``{"ok": true, "cleaned": {"kind": "remove" | "prune", "items": [...], "bytes_freed": N, "dry_run": B}}``; a
  remove of a repo a queued or running job holds is refused (version 2).
- ``subscribe`` -> the status line, then events until the client goes: ``{"event": "files", "files": [FILE, ...]}``
  (the files changed since the last one, at most every ``TICK`` s), ``{"event": "planning", "planning": [...]}``,
  ``{"event": "controls", "controls": CONTROLS}``, ``{"event": "ended", "jobs": [ID, ...], "results": {ID:
  RESULT}}`` (RESULT: the keys of ``download --json``'s ``result``, and ``plan``: its plan as ``download --json``
  prints it, once planned), ``{"event": "idle"}`` each time nothing is left queued or running, and
  ``{"event": "stopped"}`` when the service ends (after the files and ``ended`` of the jobs it stopped).

A FILE is ``{"repo_id", "repo_type", "path", "state", "done", "total", "rate", "message", "job", "connections"}``
(``connections``: the ranged connections open for a big file, 0 for one stream); a repo that failed as a whole (not
found, gated, no space) is one FILE with path ``""`` and state ``failed``. CONTROLS is ``{"max_rate", "paused_all",
"paused": [[type, id], ...], "first": [...], "last": [...]}``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

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
