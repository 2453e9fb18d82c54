"""Pane 2, Downloads: one row per file, active files on top, finished ones below, failures in red with reason."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey

from core.download import FileEvent, State

from .format import STATE_LABELS, bar, eta, rate, size

PROGRESS_REDRAW = 0.5  # seconds between redraws of a row whose state has not changed
RESORT_EVERY = 1.0  # moving rows repaints the table: at most once a second
IDLE = "no downloads yet: tick repos in pane 1 with space, then press d"
# The first five columns fit 80 columns: state, file, progress, size, rate; then ETA, repo and the reason.
COLUMNS = (("STATE", "state", 11), ("FILE", "path", 24), ("PROGRESS", "progress", 15), ("SIZE", "size", 9),
           ("RATE", "rate", 10), ("ETA", "eta", 6), ("REPO", "repo", 24), ("REASON", "reason", 60))
# Active first, then failures, then the queue, then what is finished.
RANK = {"downloading": 0, "verifying": 0, "failed": 1, "queued": 2, "done": 3, "skipped": 3}


@dataclass
class FileRow:
    repo_id: str
    path: str
    total: int
    done: int = 0
    rate: float = 0.0
    state: str = "queued"
    message: str | None = None
    shown: tuple[object, ...] = ()
    shown_at: float = 0.0

    def cells(self) -> tuple[Text, str, str, str, str, str, str, str]:
        style = "bold red" if self.state == "failed" else "green" if self.state in ("done", "skipped") else ""
        active = self.state in ("downloading", "verifying")
        label = STATE_LABELS.get(self.state, self.state)
        if self.message and self.state == "downloading":
            label = "retrying"
        whole_repo = self.total == 0 and self.state == "failed"
        return (Text(label, style=style), self.path, "-" if whole_repo else bar(self.done, self.total),
                "-" if whole_repo else size(self.total),
                rate(self.rate) if active else "-", eta(self.total - self.done, self.rate) if active else "-",
                self.repo_id, self.message or "")


class LiveTable(DataTable[object]):
    """A DataTable whose cell updates repaint only their row: ``update_cell`` repaints the whole widget,
    scrollbars included, which is most of the bytes a busy progress view sends to the terminal."""

    def set_cell(self, row_key: str, column_key: str, value: object) -> None:
        rk, ck = RowKey(row_key), ColumnKey(column_key)
        try:
            self._data[rk][ck] = value
            self._update_count += 1  # part of the row cache's key: the row renders anew
        except (AttributeError, KeyError, TypeError):  # a Textual whose internals moved: the public, slower way
            self.update_cell(rk, ck, value)
            return
        self.refresh_row(self.get_row_index(rk))


class DownloadsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(IDLE, id="dl-summary")
        table = LiveTable(id="dl-table", cursor_type="row")
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("", id="dl-detail")

    def on_mount(self) -> None:
        self.rows: dict[str, FileRow] = {}
        self.note = ""
        self.summary_at = self.sorted_at = 0.0
        self.unsorted = False

    @property
    def table(self) -> LiveTable:
        return self.query_one("#dl-table", LiveTable)

    def reset(self, note: str = "") -> None:
        self.rows.clear()
        self.table.clear()
        self.note = note
        self.update_summary()

    def apply(self, events: list[FileEvent]) -> None:
        """Show a batch of events: new rows, changed cells only, a re-sort only when a state changed.

        A row whose state is unchanged is redrawn at most every PROGRESS_REDRAW seconds, and only the cells
        whose text changed: over a slow SSH link the terminal gets a few bytes, not a full repaint."""
        table = self.table
        resort = False
        now = time.monotonic()
        for e in events:
            key = f"{e.repo_type}:{e.repo_id}:{e.path}"
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = FileRow(e.repo_id, e.path, e.total)
                row.shown = row.cells()
                table.add_row(*row.shown, key=key)
                resort = True
            state = e.state.value if isinstance(e.state, State) else str(e.state)
            changed_state = state != row.state
            resort |= changed_state
            row.done, row.total, row.rate, row.state = e.done, e.total, e.rate, state
            row.message = e.message if state in ("failed", "downloading") else None
            if not changed_state and now - row.shown_at < PROGRESS_REDRAW and not row.message:
                continue
            cells = row.cells()
            for (_label, col, _width), old, new in zip(COLUMNS, row.shown, cells, strict=True):
                if str(old) != str(new) or changed_state:
                    table.set_cell(key, col, new)
            row.shown, row.shown_at = cells, now
        self.unsorted |= resort
        if self.unsorted and now - self.sorted_at >= RESORT_EVERY:
            self.unsorted, self.sorted_at = False, now
            ranks = {(r.repo_id, r.path): RANK.get(r.state, 9) for r in self.rows.values()}
            table.sort("repo", "path", key=lambda cells: ranks.get((str(cells[0]), str(cells[1])), 9))
        if resort or now - self.summary_at >= PROGRESS_REDRAW:
            self.summary_at = now
            self.update_summary()
            self.show_detail()

    def add_repo_error(self, repo_id: str, repo_type: str, message: str) -> None:
        self.apply([FileEvent(repo_id, repo_type, f"{repo_id} (whole repo)", State.FAILED, 0, 0, message=message)])

    def update_summary(self) -> None:
        rows = list(self.rows.values())
        done = sum(r.done for r in rows)
        total = sum(r.total for r in rows)
        speed = sum(r.rate for r in rows if r.state == "downloading")
        counts = {k: sum(1 for r in rows if r.state in states) for k, states in
                  (("active", ("downloading", "verifying")), ("queued", ("queued",)),
                   ("done", ("done", "skipped")), ("failed", ("failed",)))}
        text = (f"{size(done)} / {size(total)} · {rate(speed)} · ETA {eta(total - done, speed)} · "
                f"{counts['active']} active · {counts['queued']} queued · {counts['done']} done · "
                f"{counts['failed']} failed")
        if self.note:
            text += f"\n{self.note}"
        self.query_one("#dl-summary", Static).update(text if rows or self.note else IDLE)

    def show_detail(self) -> None:
        """The reason of the highlighted row, else of the first failure: always one line, in the error colour."""
        table = self.table
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        row = self.rows.get(str(key))
        if row is None or not row.message:
            row = next((r for r in self.rows.values() if r.state == "failed"), None)
        detail = ""
        if row is not None and row.message:
            where = row.path if row.path.endswith("(whole repo)") else f"{row.repo_id}/{row.path}"
            detail = f"✗ {where}: {row.message}"
        self.query_one("#dl-detail", Static).update(Text(detail))

    def on_data_table_row_highlighted(self) -> None:
        self.show_detail()
