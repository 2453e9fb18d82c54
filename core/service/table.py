"""The service's table of every file it has seen, packed: a row number per file (by repo, then path), its
figures in typed arrays, a message only where there is one, and the rows in the order of their last change.
300,000 files take a few tens of MB, not a dict each; a subscriber finds what changed since its last look
without a pass over the table."""

from __future__ import annotations

from array import array

from ..results import FileEvent
from ..states import FileState

STATES = tuple(FileState)
STATE_CODE = {s: i for i, s in enumerate(STATES)}


class FileTable:
    def __init__(self) -> None:
        self.index: dict[tuple[str, str], dict[str, int]] = {}  # (repo_type, repo_id) -> path -> row
        self.repos: list[tuple[str, str]] = []
        self.repo_no: dict[tuple[str, str], int] = {}
        self.repo = array("i")
        self.paths: list[str] = []
        self.state = array("b")
        self.done = array("q")
        self.total = array("q")
        self.rate = array("d")
        self.job = array("i")
        self.connections = array("b")
        self.seq = array("q")  # the change number of each row's last event
        self.messages: dict[int, str] = {}
        self.changes: dict[int, None] = {}  # rows, the latest changed last

    def __len__(self) -> int:
        return len(self.paths)

    def put(self, e: FileEvent, job: int, seq: int) -> None:
        """One file's latest event, as change number ``seq``."""
        repo = (e.repo_type, e.repo_id)
        paths = self.index.get(repo)
        if paths is None:
            paths = self.index[repo] = {}
            self.repo_no[repo] = len(self.repos)
            self.repos.append(repo)
        row = paths.get(e.path)
        if row is None:
            row = paths[e.path] = len(self.paths)
            self.paths.append(e.path)
            self.repo.append(self.repo_no[repo])
            for column in (self.state, self.done, self.total, self.job, self.seq, self.connections):
                column.append(0)
            self.rate.append(0.0)
        self.state[row] = STATE_CODE[e.state]
        self.done[row], self.total[row], self.rate[row] = e.done, e.total, round(e.rate, 1)
        self.job[row], self.seq[row], self.connections[row] = job, seq, min(e.connections, 127)
        if e.message:
            self.messages[row] = e.message
        else:
            self.messages.pop(row, None)
        self.changes.pop(row, None)
        self.changes[row] = None

    def changed_since(self, seen: int) -> list[int]:
        """The rows changed after change number ``seen``, oldest change first."""
        rows = []
        seq = self.seq
        for row in reversed(self.changes):
            if seq[row] <= seen:
                break
            rows.append(row)
        rows.reverse()
        return rows

    def file(self, row: int) -> FileEvent:
        """A row as the file's latest event (with its job)."""
        repo_type, repo_id = self.repos[self.repo[row]]
        return FileEvent(repo_id, repo_type, self.paths[row], STATES[self.state[row]], self.done[row],
                         self.total[row], self.rate[row], self.messages.get(row), self.connections[row], self.job[row])
