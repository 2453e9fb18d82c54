"""The plan a download follows: per repo, which files to fetch, how many bytes that takes, what is already
here, and the free disk. Plain data: ``core.hub.planner`` makes plans, ``core.local.compare`` fills in what the
disk holds, ``core.hub.download`` runs them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .remote import Listing, Packed, RemoteFile, RemoteFiles
from .repos import RepoRef
from .sources import Source
from .states import RepoStatus

Action = Literal["fetch", "check", "skip"]


@dataclass(frozen=True, slots=True)
class FilePlan:
    """``skip``: complete and unchanged; ``check``: present at its size but unrecorded (hash, then adopt or
    fetch); ``fetch``: missing, partial (``present`` bytes kept for resume) or changed."""

    remote: RemoteFile
    action: Action
    present: int = 0

    @property
    def to_fetch(self) -> int:
        return 0 if self.action == "skip" else self.remote.size - (self.present if self.action == "fetch" else 0)


ACTIONS: tuple[Action, ...] = ("fetch", "check", "skip")
_CODE = {a: i for i, a in enumerate(ACTIONS)}


class PlannedFiles(Packed[FilePlan]):
    """A repo's planned files, packed: the files as ``RemoteFiles``, an action byte each, and the kept bytes of
    the few that differ from their action's default (a partial file). Totals are kept as files are added, and
    each ``FilePlan`` is made as iteration reaches it: 100,000 planned files hold about 9 MB, not 37."""

    __slots__ = ("_actions", "_present", "bytes_to_fetch", "bytes_total", "pending_count", "remote")

    def __init__(self, plans: Iterable[FilePlan] = ()) -> None:
        self.remote = RemoteFiles()
        self._actions = bytearray()
        self._present: dict[int, int] = {}
        self.bytes_total = self.bytes_to_fetch = self.pending_count = 0
        for fp in plans:
            self.append(fp)

    def add(self, remote: RemoteFile, action: Action, present: int = 0) -> None:
        if present != (remote.size if action == "skip" else 0):
            self._present[len(self._actions)] = present
        self.remote.append(remote)
        self._actions.append(_CODE[action])
        self.bytes_total += remote.size
        if action != "skip":
            self.pending_count += 1
            self.bytes_to_fetch += remote.size - (present if action == "fetch" else 0)

    def append(self, fp: FilePlan) -> None:
        self.add(fp.remote, fp.action, fp.present)

    def _plan(self, i: int, remote: RemoteFile, code: int) -> FilePlan:
        action = ACTIONS[code]
        return FilePlan(remote, action, self._present.get(i, remote.size if action == "skip" else 0))

    def __iter__(self) -> Iterator[FilePlan]:
        plan, actions = self._plan, self._actions
        return (plan(i, r, actions[i]) for i, r in enumerate(self.remote))

    def pending(self) -> Iterator[FilePlan]:
        """The files to fetch or check, in order, each made as it is reached."""
        skip, actions = _CODE["skip"], self._actions
        return (self._plan(i, r, actions[i]) for i, r in enumerate(self.remote) if actions[i] != skip)

    def __len__(self) -> int:
        return len(self._actions)

    def _item(self, i: int) -> FilePlan:
        return self._plan(i, self.remote[i], self._actions[i])

    def __repr__(self) -> str:
        return f"PlannedFiles({len(self)} files, {self.pending_count} pending)"


@dataclass
class RepoPlan:
    ref: RepoRef
    local_dir: Path
    status: RepoStatus = RepoStatus.AVAILABLE
    message: str | None = None
    listing: Listing | None = None
    files: PlannedFiles = field(default_factory=PlannedFiles)
    unsafe: dict[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    profile: str = "full"
    requested_id: str | None = None
    dependency_of: str | None = None
    notes: list[str] = field(default_factory=list)
    depends: list[str] = field(default_factory=list)
    urls: dict[str, str] | None = None  # an off-Hub source's files: each one's URL (None: a Hub repo)
    extract_bytes: int = 0  # what extracting its pending archives takes on disk, estimated (their own size)
    origin: Source | None = None  # the off-Hub source it was planned from

    @property
    def ok(self) -> bool:
        return self.status.ok

    def fail(self, status: RepoStatus, message: str) -> RepoPlan:
        self.status, self.message = status, message
        return self

    @property
    def bytes_total(self) -> int:
        return self.files.bytes_total

    @property
    def bytes_to_fetch(self) -> int:
        return self.files.bytes_to_fetch

    @property
    def bytes_present(self) -> int:
        return self.files.bytes_total - self.files.bytes_to_fetch

    @property
    def pending_count(self) -> int:
        return self.files.pending_count

    def pending_files(self) -> Iterator[FilePlan]:
        """The files to fetch or check, each made as it is reached (never a list of them all)."""
        return self.files.pending()


@dataclass
class Plan:
    root: Path
    repos: list[RepoPlan]
    free_bytes: int
    min_free: int

    @property
    def bytes_to_fetch(self) -> int:
        return sum(r.bytes_to_fetch for r in self.repos if r.ok)

    @property
    def bytes_present(self) -> int:
        return sum(r.bytes_present for r in self.repos if r.ok)

    @property
    def bytes_needed(self) -> int:
        """What must be free before starting: the bytes to fetch, the archives' extraction, and the margin."""
        extract = sum(r.extract_bytes for r in self.repos if r.ok)
        return self.bytes_to_fetch + extract + self.min_free if self.bytes_to_fetch or extract else 0

    @property
    def space_ok(self) -> bool:
        return self.free_bytes >= self.bytes_needed


def plan_data(plan: Plan) -> dict[str, Any]:
    """The plan as ``download --json`` prints it (and the download service returns it with a job's result)."""
    return {
        "root": str(plan.root), "free_bytes": plan.free_bytes, "bytes_to_fetch": plan.bytes_to_fetch,
        "bytes_present": plan.bytes_present, "bytes_needed": plan.bytes_needed, "space_ok": plan.space_ok,
        "repos": [{
            "repo_id": r.ref.repo_id, "repo_type": r.ref.repo_type, "path": r.ref.relpath(), "status": str(r.status),
            "status_label": r.status.label, "message": r.message, "profile": r.profile,
            "requested_id": r.requested_id, "dependency_of": r.dependency_of, "depends": r.depends,
            "notes": r.notes, "commit": r.listing.commit if r.listing else None, "file_count": len(r.files),
            "bytes_total": r.bytes_total, "bytes_to_fetch": r.bytes_to_fetch, "bytes_present": r.bytes_present,
            "unsafe": [{"path": p, "reason": why} for p, why in r.unsafe.items()],
            "source": r.origin.publisher if r.origin is not None else None,  # an off-Hub id: who serves it
        } for r in plan.repos],
    }
