"""The plan a download follows: per repo, which files to fetch, how many bytes that takes, what is already
here, and the free disk. Plain data: ``core.hub.planner`` makes plans, ``core.local.compare`` fills in what the
disk holds, ``core.hub.download`` runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .remote import Listing, RemoteFile
from .repos import RepoRef
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


@dataclass
class RepoPlan:
    ref: RepoRef
    local_dir: Path
    status: RepoStatus = RepoStatus.AVAILABLE
    message: str | None = None
    listing: Listing | None = None
    files: list[FilePlan] = field(default_factory=list)
    unsafe: dict[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    profile: str = "full"
    requested_id: str | None = None
    dependency_of: str | None = None
    notes: list[str] = field(default_factory=list)
    depends: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status.ok

    def fail(self, status: RepoStatus, message: str) -> RepoPlan:
        self.status, self.message = status, message
        return self

    @property
    def bytes_total(self) -> int:
        return sum(f.remote.size for f in self.files)

    @property
    def bytes_to_fetch(self) -> int:
        return sum(f.to_fetch for f in self.files)

    @property
    def bytes_present(self) -> int:
        return sum(f.remote.size - f.to_fetch for f in self.files)

    @property
    def pending(self) -> list[FilePlan]:
        return [f for f in self.files if f.action != "skip"]


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
        """What must be free before starting: the bytes to fetch plus the safety margin."""
        return self.bytes_to_fetch + self.min_free if self.bytes_to_fetch else 0

    @property
    def space_ok(self) -> bool:
        return self.free_bytes >= self.bytes_needed
