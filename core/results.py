"""What a download run reports, as plain types shared by the engine, the service, the CLI and the app: one file's
progress (``FileEvent``), one repo's outcome (``RepoResult``) and the run's (``RunResult``), each with the one
encoder and decoder the service's protocol carries them through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .states import FileState


@dataclass(frozen=True, slots=True)
class FileEvent:
    """Progress of one file. ``done``/``total`` are bytes; ``rate`` is bytes a second in this run. A download's
    ``message`` says why it is downloading again: every event of a retried attempt carries it. A repo that failed
    as a whole (not found, gated, no space) is one event with path ``""`` in state ``failed``."""

    repo_id: str
    repo_type: str
    path: str
    state: FileState
    done: int
    total: int
    rate: float = 0.0
    message: str | None = None
    connections: int = 0  # ranged connections open for it (0: one stream)
    job: int = 0  # the service's job it belongs to (0: a run of this process)

    def data(self) -> dict[str, Any]:
        """The protocol's FILE."""
        return {"repo_id": self.repo_id, "repo_type": self.repo_type, "path": self.path, "state": str(self.state),
                "done": self.done, "total": self.total, "rate": self.rate, "message": self.message, "job": self.job,
                "connections": self.connections}

    @classmethod
    def from_data(cls, f: dict[str, Any]) -> FileEvent:
        """A FILE read back; a field missing or of the wrong type is a ``ValueError``."""
        try:
            return cls(str(f["repo_id"]), str(f["repo_type"]), str(f["path"]), FileState(f["state"]),
                       int(f["done"]), int(f["total"]), float(f.get("rate") or 0.0),
                       None if f.get("message") is None else str(f["message"]), int(f.get("connections") or 0),
                       int(f.get("job") or 0))
        except (KeyError, TypeError) as e:
            raise ValueError(f"a file event without {e}") from None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.repo_type, self.repo_id, self.path)


@dataclass
class RepoResult:
    repo_id: str
    repo_type: str
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    cancelled: int = 0  # files stopped by a cancel, their partial bytes kept
    bytes_fetched: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and self.error is None and not self.cancelled

    @property
    def outcome(self) -> str:
        """``complete``, ``cancelled`` (stopped by a cancel, nothing failed) or ``failed``."""
        if self.ok:
            return "complete"
        return "cancelled" if self.cancelled and not self.failed and self.error is None else "failed"


@dataclass
class RunResult:
    repos: list[RepoResult]
    bytes_fetched: int = 0
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)  # what the run did besides its files (the runtime views)

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.ok for r in self.repos)

    def data(self) -> dict[str, Any]:
        """The run as JSON carries it: ``download --json``'s ``result``, and a job's result in the service."""
        return {"ok": self.ok, "cancelled": self.cancelled, "bytes_fetched": self.bytes_fetched, "notes": self.notes,
                "repos": [{"repo_id": r.repo_id, "repo_type": r.repo_type, "done": r.done, "skipped": r.skipped,
                           "cancelled": r.cancelled, "error": r.error, "bytes_fetched": r.bytes_fetched,
                           "failed": [{"path": p, "message": m} for p, m in r.failed]} for r in self.repos]}

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> RunResult:
        """``data`` read back; none (a job the service was stopped before it ended) is a cancelled run."""
        if data is None:
            return cls([], 0, cancelled=True)
        try:
            repos = [RepoResult(str(r["repo_id"]), str(r["repo_type"]), int(r["done"]), int(r["skipped"]),
                                [(str(f["path"]), str(f["message"])) for f in r["failed"]], r["error"],
                                int(r.get("cancelled", 0)), int(r.get("bytes_fetched", 0))) for r in data["repos"]]
            return cls(repos, int(data["bytes_fetched"]), cancelled=bool(data["cancelled"]),
                       notes=[str(n) for n in data.get("notes", [])])
        except (KeyError, TypeError) as e:
            raise ValueError(f"a run result without {e}") from None
