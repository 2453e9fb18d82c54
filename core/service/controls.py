"""The service's live controls: one ``Steering`` for all its jobs (the bandwidth cap, the pauses, the repos'
order), its pauses kept in the root across restarts, and each control request carried out."""

from __future__ import annotations

import logging
from pathlib import Path

from ..hub.steering import Key, Steering
from ..hub.throttle import Throttle
from ..local.pauses import read_pauses, write_pauses
from ..repos import RepoRef
from .events import Controls
from .requests import Limit, Pause, Priority, Resume

log = logging.getLogger("musicgen_tui.service")


def _key(ref: RepoRef) -> Key:
    return (ref.repo_type, ref.repo_id)


def _ref(key: Key) -> RepoRef:
    return RepoRef(key[0], key[1])  # type: ignore[arg-type]


class ServiceControls:
    def __init__(self, root: Path, max_rate: int) -> None:
        self.root = root
        paused_all, paused = read_pauses(root)  # a pause outlives the service that took it
        self.steering = Steering(Throttle(max_rate), paused_all=paused_all, paused=paused)

    def snapshot(self) -> Controls:
        s = self.steering
        return Controls(s.throttle.rate, s.paused_all, tuple(_ref(k) for k in sorted(s.paused)),
                        tuple(_ref(k) for k in s.first), tuple(_ref(k) for k in s.last))

    def apply(self, request: Limit | Pause | Resume | Priority) -> Controls:
        """Carry out a control request; the controls after it."""
        s = self.steering
        if isinstance(request, Limit):
            s.throttle.set(request.max_rate)
        elif isinstance(request, Priority):
            s.place(_key(request.repo), request.place == "first")
        else:
            key = None if request.repo is None else _key(request.repo)
            (s.pause if isinstance(request, Pause) else s.resume)(key)
            try:
                write_pauses(self.root, s.paused_all, set(s.paused))
            except OSError as e:  # the pause holds for this service's life; the next one would not know it
                log.warning("the pauses could not be kept in %s: %s", self.root, e.strerror or e)
        return self.snapshot()

    def rank(self, refs: tuple[RepoRef, ...]) -> tuple[int, int]:
        """A job's place in the queue: that of its best-placed repo."""
        return min((self.steering.rank(_key(r)) for r in refs), default=(1, 0))
