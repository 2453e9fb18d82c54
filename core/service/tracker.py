"""One job tracker for every client of the service (the CLI's ``status --follow`` and ``download --run``, the
app): the service's status and events folded into what a client shows: each file's latest event, the planning,
whether the service is busy, its controls, and the ends of the jobs this client handed over, whichever arrives
first, the job's number or its end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..results import FileEvent
from ..states import FileState
from .events import (
    Controls,
    ControlsChanged,
    Event,
    FilesChanged,
    Idle,
    JobResult,
    JobsEnded,
    Planning,
    PlanningChanged,
    StatusReply,
    Stopped,
)

T = TypeVar("T")
KEEP_ENDED = 100  # ends kept for a job whose number arrives after its end


@dataclass(frozen=True)
class Ended(Generic[T]):
    """A job that ended: its result, and what the client handed over with it (None: another client's job)."""

    job: int
    result: JobResult
    mine: bool
    payload: T | None = None
    again: bool = False  # heard before, as another client's (its end came before its number): count it once


@dataclass
class Update(Generic[T]):
    """What one status or event changed: files with the state each had before (None: new), and jobs ended."""

    files: list[tuple[FileState | None, FileEvent]] = field(default_factory=list)
    ended: list[Ended[T]] = field(default_factory=list)
    stopped: bool = False


class JobTracker(Generic[T]):
    """``only_mine``: keep only the files of this client's jobs (``download --run`` through the service);
    ``keep_files``: remember every file's latest event (a client with its own table, the app, does not)."""

    def __init__(self, *, only_mine: bool = False, keep_files: bool = True) -> None:
        self.only_mine, self.keep_files = only_mine, keep_files
        self.files: dict[tuple[str, str, str], FileEvent] = {}
        self.planning: Planning = ()
        self.busy = False
        self.controls = Controls()
        self.mine: dict[int, T | None] = {}  # this client's jobs not ended, with what it handed over
        self.handing = 0  # handed over, their number not known yet
        self.recent: dict[int, JobResult] = {}  # the latest ends, of any client's jobs
        self.attached = False
        self.pid = 0  # the service attached to (job numbers are its own)

    @property
    def pending(self) -> bool:
        """Something of this client's is being handed over or runs, or the service runs another client's job."""
        return self.handing > 0 or bool(self.mine) or self.busy

    # --- this client's jobs ---------------------------------------------------------------------
    def handing_over(self) -> None:
        self.handing += 1

    def handover_failed(self) -> None:
        self.handing = max(0, self.handing - 1)

    def handed(self, job: int, payload: T | None = None) -> Ended[T] | None:
        """The service took a job as ``job``: its end, when it came first."""
        self.handing = max(0, self.handing - 1)
        if job in self.recent:
            return Ended(job, self.recent[job], True, payload, again=True)
        self.mine[job] = payload
        return None

    # --- the service's side ---------------------------------------------------------------------
    def attach(self, status: StatusReply) -> Update[T]:
        """The status a subscription begins with (the service, new or the same, as it is now)."""
        if status.pid != self.pid:  # another service: its job numbers start again
            self.recent.clear()
        self.attached, self.pid = True, status.pid
        self.busy, self.planning, self.controls = status.busy, status.planning, status.controls
        update: Update[T] = Update()
        self._files(status.files, update)
        self._ended(status.results, update)
        return update

    def apply(self, event: Event) -> Update[T]:
        update: Update[T] = Update()
        if isinstance(event, FilesChanged):
            self._files(event.files, update)
        elif isinstance(event, PlanningChanged):
            self.planning = event.planning
        elif isinstance(event, ControlsChanged):
            self.controls = event.controls
        elif isinstance(event, JobsEnded):
            self._ended(event.results, update)
        elif isinstance(event, Idle):
            self.busy = False
        elif isinstance(event, Stopped):
            update.stopped = True
        return update

    def detach(self) -> Update[T]:
        """The service ended (stopped, idle, killed): a job of this client it had not ended is over, cancelled
        (the partial files stay for the next download)."""
        self.attached, self.busy, self.planning = False, False, ()
        update: Update[T] = Update()
        for job, payload in list(self.mine.items()):
            update.ended.append(Ended(job, JobResult.from_data(None), True, payload))
        self.mine.clear()
        return update

    def _files(self, files: list[FileEvent], update: Update[T]) -> None:
        for f in files:
            if self.only_mine and f.job not in self.mine:
                continue
            before = self.files.get(f.key)
            if self.keep_files:
                self.files[f.key] = f
            update.files.append((None if before is None else before.state, f))

    def _ended(self, results: dict[int, JobResult], update: Update[T]) -> None:
        for job, result in results.items():
            if job in self.recent:
                continue  # an end already heard (a status after a reattach repeats the latest ones)
            self.recent[job] = result
            while len(self.recent) > KEEP_ENDED:
                del self.recent[next(iter(self.recent))]
            mine = job in self.mine
            update.ended.append(Ended(job, result, mine, self.mine.pop(job, None)))
