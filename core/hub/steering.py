"""What can be changed while downloads run: the bandwidth cap, what is paused (everything, or some repos) and
the order of the repos. One ``Steering`` per service (or per foreground run), shared by its runs: each run's
``RunQueue`` asks it which repo's file comes next, and hears its changes."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from ..plan import FilePlan, RepoPlan
from .throttle import Throttle

Key = tuple[str, str]  # (repo_type, repo_id)
WAIT = 0.25  # seconds a worker with only paused files left waits before it looks at the run's cancel again


class Steering:
    def __init__(self, throttle: Throttle | None = None, *, paused_all: bool = False,
                 paused: tuple[Key, ...] = ()) -> None:
        self.throttle = throttle or Throttle()
        self.paused_all = paused_all
        self.paused: set[Key] = set(paused)
        self.first: list[Key] = []  # moved to the front, the latest first
        self.last: list[Key] = []  # moved to the back, the latest last
        self.moves = 0  # how many times the order changed: a queue sorts its repos again only then
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, Key | None], None]] = []

    def is_paused(self, key: Key) -> bool:
        return self.paused_all or key in self.paused

    def rank(self, key: Key) -> tuple[int, int]:
        """Where a repo's files come in the queue: the ones moved first, the rest in their order, the ones moved
        last (ties keep the order the repos were planned in)."""
        if key in self.first:
            return (0, self.first.index(key))
        if key in self.last:
            return (2, self.last.index(key))
        return (1, 0)

    def listen(self, listener: Callable[[str, Key | None], None]) -> Callable[[], None]:
        """``listener(kind, key)`` hears each change (key None: everything): ``paused`` after a pause,
        ``resuming`` before a resume takes effect (the files can still be said to be queued before any is taken),
        ``changed`` after a resume or a move. Returns the unlisten."""
        with self._lock:
            self._listeners.append(listener)

        def unlisten() -> None:
            with self._lock:
                self._listeners.remove(listener)

        return unlisten

    def _tell(self, kind: str, key: Key | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(kind, key)

    def pause(self, key: Key | None = None) -> None:
        """Pause everything (``key`` None) or one repo: its files in flight stop (their bytes kept), none starts."""
        with self._lock:
            if key is None:
                self.paused_all = True
            else:
                self.paused.add(key)
        self._tell("paused", key)

    def resume(self, key: Key | None = None) -> None:
        """Resume everything (``key`` None: the pause of all and of every repo ends) or one repo."""
        self._tell("resuming", key)
        with self._lock:
            if key is None:
                self.paused_all = False
                self.paused.clear()
            else:
                self.paused.discard(key)
        self._tell("changed", key)

    def place(self, key: Key, first: bool) -> None:
        """Move a repo's files to the front of the queue or to its back."""
        with self._lock:
            for order in (self.first, self.last):
                if key in order:
                    order.remove(key)
            if first:
                self.first.insert(0, key)
            else:
                self.last.append(key)
            self.moves += 1
        self._tell("changed", key)


@dataclass
class _Repo:
    plan: RepoPlan
    key: Key
    order: int
    files: Iterator[FilePlan]
    parked: deque[FilePlan] = field(default_factory=deque)  # stopped by a pause in flight, first out again
    taken: int = 0  # files taken from ``files`` so far
    ended: bool = False


class RunQueue:
    """A run's files, repo by repo, in the steering's order, a paused repo's held back: ``take`` hands out the next
    file (waiting while only paused files are left); ``park`` puts back one a pause stopped in flight. Nothing is
    held per file but the few parked ones: the files are made from the plan as they are reached."""

    def __init__(self, repos: list[tuple[RepoPlan, Iterator[FilePlan]]], steering: Steering,
                 cancel: threading.Event) -> None:
        self.steering, self.cancel = steering, cancel
        self.repos = [_Repo(rp, (rp.ref.repo_type, rp.ref.repo_id), i, files) for i, (rp, files) in enumerate(repos)]
        self._cond = threading.Condition()
        self._order: list[_Repo] = []  # the repos not ended, in the steering's order as of ``_moves``
        self._moves = -1
        self.workers = 0  # the run's workers still taking files (set by the run; each leaves at its None)
        self.idle = 0  # of them, those waiting in ``take`` with only paused files left

    @property
    def held(self) -> bool:
        """Every worker waits on paused files: nothing of this run is in flight."""
        return self.workers > 0 and self.idle >= self.workers

    def take(self) -> tuple[RepoPlan, FilePlan] | None:
        """The next file to fetch; None once every file is taken (or the run is cancelled): the worker leaves."""
        with self._cond:
            task = self._take()
            if task is None:
                self.workers -= 1
            return task

    def _take(self) -> tuple[RepoPlan, FilePlan] | None:
        with self._cond:
            while not self.cancel.is_set():
                waiting = False
                if self._moves != self.steering.moves:  # sorted once per move, never once per file
                    self._moves = self.steering.moves
                    self._order = sorted(self.repos, key=lambda r: (self.steering.rank(r.key), r.order))
                for repo in self._order:
                    if repo.ended:
                        continue
                    if self.steering.is_paused(repo.key):
                        waiting = True
                        continue
                    if repo.parked:
                        return repo.plan, repo.parked.popleft()
                    fp = next(repo.files, None)
                    if fp is None:
                        repo.ended = True
                        continue
                    repo.taken += 1
                    return repo.plan, fp
                if not waiting:
                    return None
                self.idle += 1
                try:
                    self._cond.wait(WAIT)
                finally:
                    self.idle -= 1
            return None

    def park(self, rp: RepoPlan, fp: FilePlan) -> None:
        with self._cond:
            for repo in self.repos:
                if repo.plan is rp:
                    repo.parked.append(fp)
                    repo.ended = False
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def waiting(self, key: Key | None) -> Iterator[tuple[RepoPlan, FilePlan]]:
        """The files of a repo (every repo: ``key`` None) not taken yet, parked ones first (made afresh from the
        plan: the queue's own place is untouched)."""
        with self._cond:
            picked = [(r.plan, list(r.parked), r.taken) for r in self.repos
                      if (key is None or r.key == key) and not (r.ended and not r.parked)]
        for rp, parked, taken in picked:
            yield from ((rp, fp) for fp in parked)
            yield from ((rp, fp) for fp in islice(rp.pending_files(), taken, None))

    def left(self) -> Iterator[tuple[RepoPlan, FilePlan]]:
        """Every file not taken, parked ones included, taking them (a cancelled run's end)."""
        for repo in self.repos:
            while repo.parked:
                yield repo.plan, repo.parked.popleft()
            for fp in repo.files:
                yield repo.plan, fp
