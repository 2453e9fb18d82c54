"""The service's requests as typed values, with the one strict decoder the service reads them through.

A request is one JSON object on one line (``protocol.py`` documents each). ``decode_request`` checks it against
its type: an unknown op, an unknown field, a field of the wrong type (``true`` is not a number, ``"2"`` is not
a count) or a line too long or too deep is a ``ProtocolError`` whose text is the one-line error reply. Nothing a
client sends reaches the planner or the downloader unchecked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any, Literal

from ..profiles import PROFILES
from ..repos import RepoRef

PROTOCOL_VERSION = 3  # a client and a service of different versions say so at ``hello`` and stop there
MAX_LINE = 1 << 20  # bytes of one request line (a submit of 10,000 repos is about 600 KB)
CacheUse = Literal["off", "read", "write"]
PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


class ProtocolError(ValueError):
    """A request that cannot be taken: its text is the reply's one-line error."""


@dataclass(frozen=True)
class Hello:
    """The first request of a connection: the client's protocol version."""

    version: int


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Subscribe:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Cancel:
    """Everything, one job, one repo's files (``repo``) or one file (``repo`` and ``path``)."""

    job: int | None = None
    repo: RepoRef | None = None
    path: str | None = None


@dataclass(frozen=True)
class Submit:
    repos: tuple[RepoRef, ...]
    profile: str = "full"
    profiles: tuple[tuple[RepoRef, str], ...] = ()
    fp32: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    revision: str | None = None
    dependencies: bool = True
    max_workers: int = 8
    cache: CacheUse = "off"
    force: bool = False
    connections: int | None = None
    token: str = ""  # the client's ``Settings.token_id``: a job runs with the service's token only when they match
    max_rate: int | None = None  # bytes a second: the service's overall cap from now on (0 none; None: unchanged)
    drop_archives: bool = False  # an off-Hub archive is removed once extracted (its manifest stands for it)
    lock: str | None = None  # a lock file's absolute path: restore its exact set (``repos`` are its repos)


@dataclass(frozen=True)
class Limit:
    """One overall bandwidth cap for every connection of the service, bytes a second (0: none)."""

    max_rate: int


@dataclass(frozen=True)
class Pause:
    """Pause every download (``repo`` None) or one repo's: paused files keep their bytes and hold no connection."""

    repo: RepoRef | None = None


@dataclass(frozen=True)
class Resume:
    repo: RepoRef | None = None


@dataclass(frozen=True)
class Priority:
    """Move a repo's files to the front (``first``) or the back (``last``) of the queue."""

    repo: RepoRef
    place: Literal["first", "last"]


@dataclass(frozen=True)
class Verify:
    """Verify the root (every repo when ``repos`` is empty) as the one writer of its caches and report."""

    repos: tuple[RepoRef, ...] = ()
    full: bool = False


@dataclass(frozen=True)
class Export:
    """Write the inventories (``inventories``), the checksum files over ``checksum_min`` bytes (``checksums``;
    ``checksum_min`` None: the service's setting) and the loaders' runtime views (``views``)."""

    inventories: bool = True
    checksums: bool = True
    checksum_min: int | None = None
    views: bool = False
    lock: bool = False  # write ROOT/musicgen.lock, once a verify of the root finds no problem (version 3)


@dataclass(frozen=True)
class Remove:
    """Remove repos from the root (``dry_run``: only say what would go and what it frees)."""

    repos: tuple[RepoRef, ...]
    dry_run: bool = True


@dataclass(frozen=True)
class Prune:
    """Remove what no running download uses (``dry_run``: only say what)."""

    dry_run: bool = True


Request = (Hello | Status | Subscribe | Stop | Cancel | Submit | Limit | Pause | Resume | Priority | Verify | Export
           | Remove | Prune)
MAX_RATE = 1 << 40  # bytes a second: far above any link


def _int(value: Any, name: str, low: int, high: int, *, none: bool = False) -> int | None:
    if value is None and none:
        return None
    if type(value) is not int or not low <= value <= high:  # a bool is an int to Python, never to us
        raise ProtocolError(f"{name} must be a whole number from {low} to {high}")
    return value


def _bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise ProtocolError(f"{name} must be true or false")
    return value


def _str(value: Any, name: str, *, none: bool = False) -> str | None:
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{name} must be a string")
    return value


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{name} must be a list of strings")
    return tuple(value)


def _ref(value: Any, name: str) -> RepoRef:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{name} must be [type, id]")
    try:
        return RepoRef(value[0], value[1])  # type: ignore[arg-type]
    except ValueError as e:
        raise ProtocolError(f"{name}: {e}") from None


def _profile(value: Any, name: str) -> str:
    """A Hub profile, or a name an off-Hub source may have (``midi``, ``htdemucs_ft``): a short plain word."""
    if value not in PROFILES and not (isinstance(value, str) and PROFILE_NAME.fullmatch(value)):
        raise ProtocolError(f"{name} must be one of {', '.join(PROFILES)}, or a source's profile name")
    return str(value)


def _submit(data: dict[str, Any]) -> Submit:
    repos = data.get("repos")
    if not isinstance(repos, list) or not repos:
        raise ProtocolError("submit names no repos")
    profiles = data.get("profiles", [])
    if not isinstance(profiles, list) or not all(isinstance(p, list) and len(p) == 3 for p in profiles):
        raise ProtocolError("profiles must be a list of [type, id, profile]")
    cache = data.get("cache", "off")
    if cache not in ("off", "read", "write"):
        raise ProtocolError("cache must be off, read or write")
    return Submit(
        repos=tuple(_ref(r, "repos[]") for r in repos),
        profile=_profile(data.get("profile", "full"), "profile"),
        profiles=tuple((_ref(p[:2], "profiles[]"), _profile(p[2], "profiles[]")) for p in profiles),
        fp32=_bool(data.get("fp32", False), "fp32"),
        include=_strings(data.get("include", []), "include"),
        exclude=_strings(data.get("exclude", []), "exclude"),
        revision=_str(data.get("revision"), "revision", none=True),
        dependencies=_bool(data.get("dependencies", True), "dependencies"),
        max_workers=_int(data.get("max_workers", 8), "max_workers", 1, 256) or 8,
        cache=cache,
        force=_bool(data.get("force", False), "force"),
        connections=_int(data.get("connections"), "connections", 1, 64, none=True),
        token=_str(data.get("token", ""), "token") or "",
        max_rate=_int(data.get("max_rate"), "max_rate", 0, MAX_RATE, none=True),
        drop_archives=_bool(data.get("drop_archives", False), "drop_archives"),
        lock=_lock_path(data.get("lock")),
    )


def _lock_path(value: Any) -> str | None:
    path = _str(value, "lock", none=True)
    if path is not None and not path.startswith("/"):
        raise ProtocolError("lock must be an absolute path")
    return path


def _repo(data: dict[str, Any]) -> RepoRef | None:
    repo = data.get("repo")
    return None if repo is None else _ref(repo, "repo")


def _priority(data: dict[str, Any]) -> Priority:
    repo, place = _repo(data), data.get("place")
    if repo is None:
        raise ProtocolError("priority needs repo")
    if place not in ("first", "last"):
        raise ProtocolError("place must be first or last")
    return Priority(repo, place)


def _verify(data: dict[str, Any]) -> Verify:
    repos = data.get("repos", [])
    if not isinstance(repos, list):
        raise ProtocolError("repos must be a list of [type, id]")
    return Verify(tuple(_ref(r, "repos[]") for r in repos), _bool(data.get("full", False), "full"))


def _export(data: dict[str, Any]) -> Export:
    return Export(_bool(data.get("inventories", True), "inventories"), _bool(data.get("checksums", True), "checksums"),
                  _int(data.get("checksum_min"), "checksum_min", 0, 1 << 62, none=True),
                  _bool(data.get("views", False), "views"), _bool(data.get("lock", False), "lock"))


def _remove(data: dict[str, Any]) -> Remove:
    repos = data.get("repos")
    if not isinstance(repos, list) or not repos:
        raise ProtocolError("remove needs repos: a list of [type, id]")
    return Remove(tuple(_ref(r, "repos[]") for r in repos), _bool(data.get("dry_run", True), "dry_run"))


def _cancel(data: dict[str, Any]) -> Cancel:
    repo = data.get("repo")
    path = _str(data.get("path"), "path", none=True)
    if path is not None and repo is None:
        raise ProtocolError("path needs repo")
    return Cancel(job=_int(data.get("job"), "job", 1, 1 << 62, none=True),
                  repo=None if repo is None else _ref(repo, "repo"), path=path)


KINDS: dict[str, type[Request]] = {  # each op's type
    "hello": Hello, "status": Status, "subscribe": Subscribe, "stop": Stop, "cancel": Cancel, "submit": Submit,
    "limit": Limit, "pause": Pause, "resume": Resume, "priority": Priority, "verify": Verify, "export": Export,
    "remove": Remove, "prune": Prune}
FIELDS = {op: frozenset(f.name for f in fields(kind)) for op, kind in KINDS.items()}  # as each type declares them
OPS = {kind: op for op, kind in KINDS.items()}


def decode_request(line: bytes) -> Request:
    """The request on ``line`` (one JSON object), checked field by field; ``ProtocolError`` with the reason."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"request line over {MAX_LINE} bytes")
    try:
        data = json.loads(line)
    except RecursionError:
        raise ProtocolError("request nested too deep") from None
    except ValueError:
        raise ProtocolError("not a JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    op = data.get("op")
    if not isinstance(op, str) or op not in FIELDS:
        raise ProtocolError(f"unknown op {op!r}")
    unknown = sorted(set(data) - FIELDS[op] - {"op"})
    if unknown:
        raise ProtocolError(f"{op}: unknown field {unknown[0]!r}")
    if op == "hello":
        return Hello(_int(data.get("version"), "version", 0, 1 << 30) or 0)
    if op == "submit":
        return _submit(data)
    if op == "cancel":
        return _cancel(data)
    if op == "limit":
        return Limit(_int(data.get("max_rate"), "max_rate", 0, MAX_RATE) or 0)
    if op in ("pause", "resume"):
        return (Pause if op == "pause" else Resume)(_repo(data))
    if op == "priority":
        return _priority(data)
    if op == "verify":
        return _verify(data)
    if op == "export":
        return _export(data)
    if op == "remove":
        return _remove(data)
    if op == "prune":
        return Prune(_bool(data.get("dry_run", True), "dry_run"))
    if op == "status":
        return Status()
    return Subscribe() if op == "subscribe" else Stop()


def _plain(value: Any) -> Any:
    if isinstance(value, RepoRef):
        return [value.repo_type, value.repo_id]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def encode_request(request: Request) -> dict[str, Any]:
    """A request as the JSON object ``decode_request`` reads back (a field left at None is left out)."""
    out: dict[str, Any] = {"op": OPS[type(request)]}
    for f in fields(request):
        value = getattr(request, f.name)
        if value is not None:
            out[f.name] = _plain(value)
    if isinstance(request, Submit):  # [type, id, profile], not [[type, id], profile]
        out["profiles"] = [[r.repo_type, r.repo_id, p] for r, p in request.profiles]
    return out
