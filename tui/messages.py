"""Messages the thread workers post to the app. Progress arrives in coalesced batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message

from core.local.inventory import LocalRepo
from core.local.verify import FileCheck, Queued, VerifyResult
from core.plan import RepoPlan
from core.repos import RepoRef
from core.results import FileEvent
from core.runtime.smoke import SmokeCheck, SmokeResult
from core.service.events import Cleaned, Controls, Event, StatusReply
from core.service.requests import Submit


@dataclass
class RepoPlanned(Message):
    """One repo's plan is known (size, status), for the Select pane."""

    plan: RepoPlan


@dataclass
class LocalScanned(Message):
    """What the root holds now, one entry per local repo folder."""

    repos: list[LocalRepo]
    ready: dict[str, str] = field(default_factory=dict)  # model id -> what it is ready for offline
    against_lock: str = ""  # how the root stands against its musicgen.lock ("" when it has none)


@dataclass
class PlanProgress(Message):
    """What the planning of each repo is doing now (listing page by page, a retry's wait, the disk check)."""

    steps: list[tuple[RepoRef, str]]


@dataclass
class DownloadProgress(Message):
    """The latest event of every file that moved since the last batch."""

    events: list[FileEvent]


@dataclass
class ServiceAttached(Message):
    """The root's download service, as the app found it: its files, what it plans, its jobs and their results."""

    status: StatusReply


@dataclass
class ServiceEvent(Message):
    """One of the service's events but its files (``DownloadProgress``): planning, controls, jobs ended, idle."""

    event: Event


@dataclass
class Submitted(Message):
    """The service took the download as job ``job``."""

    job: int
    request: Submit


@dataclass
class SubmitFailed(Message):
    """A download could not be handed to the service: one line for the user."""

    error: str


@dataclass
class Controlled(Message):
    """The service's controls after a control key (a pause, a resume, a move, a cap)."""

    controls: Controls


@dataclass
class ServiceDetached(Message):
    """The service ended (stopped, idle, killed): the app looks for the next one."""


@dataclass
class ServiceFailed(Message):
    """The service could not be reached, started or asked: one line for the user."""

    error: str


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
    report: Path | None  # None: the root could not be written


@dataclass
class Exported(Message):
    paths: list[Path]  # what was written
    no_checksums_over: int | None = None  # no file was over this size (MUSICGEN_CHECKSUM_MIN): no checksum file


@dataclass
class SmokeChecked(Message):
    """One finding of a smoke check, as it is made."""

    check: SmokeCheck


@dataclass
class SmokeFinished(Message):
    result: SmokeResult


@dataclass
class ViewsRefreshed(Message):
    """The runtime views were brought in line with the workspace (what it did, in one line)."""

    summary: str


@dataclass
class RemovalSaid(Message):
    """A remove's answer: a dry run's (what would go, asked next) or the removal's own."""

    ref: RepoRef
    cleaned: Cleaned


@dataclass
class LockSaid(Message):
    """What writing the root's lock did: the file written, or the problems that kept it from being written."""

    path: str
    problems: list[str]
