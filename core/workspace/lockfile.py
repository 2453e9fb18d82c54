"""``musicgen.lock``: a root's exact set, to check a root against (``verify --lock``) and, later, to restore or
carry it. JSON with a ``version``, one repo an object and one file a line (diff-friendly at 300,000 files): each
repo's id, type, commit, profile and patterns, an off-Hub source's publisher, URLs and checksums, and every file
with its size and the hash it was verified against (sha256 for LFS and off-Hub files, the git oid for small
ones). Schema: ``core/schemas/lock.schema.json``."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..local.inventory import now_iso, repo_folders
from ..local.jsonio import write_text_atomic
from ..local.origin import read_origin
from ..local.record import read_planned_sizes, read_record, unpack
from ..local.safeio import read_capped
from ..repos import RepoRef

LOCK_NAME = "musicgen.lock"
LOCK_VERSION = 1
LOCK_MAX = 1 << 30  # bytes of a lock file read at most


class LockError(ValueError):
    """A lock file that cannot be used: the message names the file and what is wrong, in one line."""


@dataclass(frozen=True)
class LockedRepo:
    ref: RepoRef
    revision: str
    profile: str = "full"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    source: dict[str, Any] | None = None  # an off-Hub source: its publisher and parts (url, checksum)
    files: tuple[tuple[str, int, str], ...] = field(default=(), repr=False)  # (path, size, hash), sorted


def locked_repos(root: Path, refs: list[RepoRef] | None = None) -> list[LockedRepo]:
    """Every local repo with a record (or those of ``refs``), as the lock holds it."""
    out = []
    wanted = {r.local_dir(root) for r in refs} if refs is not None else None
    for _, folder in repo_folders(root):
        if wanted is not None and folder not in wanted:
            continue
        record, planned = read_record(folder), read_planned_sizes(folder)
        if record is None or planned is None:
            continue
        files = sorted((prefix + n, int(s), e) for prefix, packed in planned.folders.items()
                       for n, s, e in zip(*unpack(packed), strict=True))
        origin = read_origin(folder)
        source: dict[str, Any] | None = None if origin is None else \
            {k: v for k, v in origin.items() if k not in ("id", "profile")}
        out.append(LockedRepo(planned.ref, planned.commit, record.profile, record.include, record.exclude, source,
                              tuple(files)))
    return out


def _lines(repos: list[LockedRepo]) -> Iterator[str]:
    yield f'{{"version": {LOCK_VERSION}, "generated_at": {json.dumps(now_iso())}, "repos": [\n'
    for i, r in enumerate(repos):
        head = {"repo_id": r.ref.repo_id, "repo_type": r.ref.repo_type, "revision": r.revision, "profile": r.profile,
                "include": list(r.include), "exclude": list(r.exclude), "source": r.source}
        yield ("" if i == 0 else ",\n") + json.dumps(head, ensure_ascii=False)[:-1] + ', "files": [\n'
        yield ",\n".join("  " + json.dumps(list(f), ensure_ascii=False) for f in r.files)
        yield "\n]}"
    yield "\n]}\n"


def write_lock(path: Path, repos: list[LockedRepo]) -> None:
    write_text_atomic(path, _lines(repos))


def read_lock(path: Path, *, follow: bool = True) -> list[LockedRepo]:
    """The repos of a lock file; ``LockError`` naming the file for anything else. ``follow`` False: a symbolic
    link (one planted where the root's own lock goes) is refused, never read through."""
    try:
        raw = read_capped(path, LOCK_MAX, follow=follow)
    except OSError as e:
        raise LockError(f"{path}: {'a symbolic link' if e.errno == errno.ELOOP else e.strerror or e}") from None
    return parse_lock(raw, str(path))


def parse_lock(raw: bytes, where: str) -> list[LockedRepo]:
    """The repos of a lock's bytes (``where`` names them in a ``LockError``)."""
    path = where
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LockError(f"{path}: not a lock file ({e})") from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise LockError(f"{path}: not a version {LOCK_VERSION} lock file")
    try:
        return [LockedRepo(RepoRef(r["repo_type"], r["repo_id"]), str(r["revision"]), str(r.get("profile", "full")),
                           tuple(r.get("include", ())), tuple(r.get("exclude", ())), r.get("source"),
                           tuple((str(p), int(s), str(h)) for p, s, h in r["files"])) for r in data["repos"]]
    except (KeyError, TypeError, ValueError) as e:
        raise LockError(f"{path}: a repo entry of another shape ({e})") from None


@dataclass(frozen=True)
class LockProblem:
    """Where a root differs from its lock: ``missing``, ``mismatch``, ``wrong revision`` or ``extra``."""

    status: str
    repo_id: str
    repo_type: str
    path: str
    detail: str


def compare(root: Path, repos: list[LockedRepo]) -> list[LockProblem]:
    """The root's records against the lock, file by file, with no hashing and no network (the bytes on disk
    against the records is ``verify``'s part)."""
    out: list[LockProblem] = []
    for r in repos:
        out += _repo_against(root, r)
    return out


def _repo_against(root: Path, r: LockedRepo) -> list[LockProblem]:
    out: list[LockProblem] = []

    def say(status: str, path: str, detail: str) -> None:
        out.append(LockProblem(status, r.ref.repo_id, r.ref.repo_type, path, detail))

    folder = r.ref.local_dir(root)
    planned = read_planned_sizes(folder)
    if planned is None:
        say("missing", folder.relative_to(root).as_posix(), "not in this root")
        return out
    if planned.commit != r.revision:
        say("wrong revision", "", f"the root holds {planned.commit[:12]}, the lock {r.revision[:12]}")
    have = {prefix + n: (int(s), e) for prefix, packed in planned.folders.items()
            for n, s, e in zip(*unpack(packed), strict=True)}
    for path, size, digest in r.files:
        got = have.pop(path, None)
        if got is None:
            say("missing", path, "in the lock, not in the root's record")
        elif got != (size, digest):
            say("mismatch", path, f"the root has {got[0]} bytes, {got[1][:12]}…; the lock {size}, {digest[:12]}…")
    for path in sorted(have):
        say("extra", path, "in the root's record, not in the lock")
    return out
