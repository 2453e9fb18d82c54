"""Messages the thread workers post to the app. Progress arrives in coalesced batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from core.hub.download import FileEvent, RunResult
from core.local.inventory import LocalRepo
from core.local.verify import FileCheck, Queued, VerifyResult
from core.plan import Plan, RepoPlan
from core.repos import RepoRef


@dataclass
class RepoPlanned(Message):
    """One repo's plan is known (size, status), for the Select pane."""

    plan: RepoPlan


@dataclass
class LocalScanned(Message):
    """What the root holds now, one entry per local repo folder."""

    repos: list[LocalRepo]


@dataclass
class PlanProgress(Message):
    """What the planning of each repo is doing now (listing page by page, a retry's wait, the disk check)."""

    steps: list[tuple[RepoRef, str]]


@dataclass
class DownloadPlanned(Message):
    """The plan for the selection is ready; the app checks disk space and starts the download."""

    plan: Plan


@dataclass
class DownloadProgress(Message):
    """The latest event of every file that moved since the last batch."""

    events: list[FileEvent]


@dataclass
class DownloadFinished(Message):
    """The run is over: its result, or why it never started."""

    result: RunResult | None
    error: str | None = None


@dataclass
class VerifyQueued(Message):
    """Files about to be hashed."""

    files: list[Queued]


@dataclass
class VerifyProgress(Message):
    checks: list[FileCheck]


@dataclass
class VerifyFinished(Message):
    result: VerifyResult
    report: Path


@dataclass
class Exported(Message):
    paths: list[Path]
