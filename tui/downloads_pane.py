"""Pane 2, Downloads: one row per file, active files on top, finished ones below, failures in red with reason."""

from __future__ import annotations

import gc
import time
from collections import Counter, deque
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from core.progress import RateWindow
from core.repos import RepoRef
from core.results import FileEvent
from core.safety import printable
from core.states import FileState

from .bindings import current_keys
from .format import bar, eta, lines_printable, middle, plain, rate, size, styled
from .live_table import LiveTable

PROGRESS_REDRAW = 0.5  # seconds between redraws of a row whose state has not changed
RESORT_EVERY = 1.0  # moving rows repaints the table: at most once a second
BIG_TABLE = 2000  # rows from which a re-sort waits three times as long (a queue of small files churns)
RETRYING = "retrying"  # the label of a file downloading again after an error
ROWS_PER_FRAME = 1000  # new rows added to the table between two screen refreshes
# At 80 columns: state, the file (its name shortened in the middle to what is left), progress, rate and ETA; a
# wider terminal shows the size, the repo and the reason too (the name column grows to NAME_MAX first).
COLUMNS = (("STATE", "state", 11), ("FILE", "path", 24), ("PROGRESS", "progress", 15), ("RATE", "rate", 10),
           ("ETA", "eta", 6), ("SIZE", "size", 9), ("REPO", "repo", 24), ("REASON", "reason", 60))
NAME_MIN, NAME_MAX = 16, 40
# Cells beside the name: the state, progress, rate and ETA columns, every column's two cells of padding, and
# the vertical scrollbar.
BESIDE_NAME = sum(w for _label, key, w in COLUMNS if key in ("state", "progress", "rate", "eta")) + 2 * 5 + 2
# Active first, then failures, then the queue, then what is finished; by the label the STATE column shows.
RANK = {FileState.DOWNLOADING.label: 0, RETRYING: 0, FileState.VERIFYING.label: 0, FileState.FAILED.label: 1,
        FileState.QUEUED.label: 2, FileState.PAUSED.label: 2, FileState.CANCELLED.label: 2, FileState.DONE.label: 3,
        FileState.SKIPPED.label: 3}
STATE_RANK = {s: RANK.get(s.label, 0) for s in FileState}  # the same by state (a retry ranks as a download)


@dataclass
class FileRow:
    """One file's row; a repo that failed before any file was known has one row for the whole repo."""

    repo_id: str
    path: str
    total: int
    done: int = 0
    rate: float = 0.0
    state: FileState = FileState.QUEUED
    message: str | None = None
    whole_repo: bool = False
    connections: int = 0  # ranged connections open for a big file (0: one stream)
    key: str = ""
    shown: tuple[object, ...] = ()
    shown_at: float = 0.0
    in_table: bool = False  # False while it waits in the backlog of rows still to add

    @property
    def label(self) -> str:
        return RETRYING if self.message and self.state is FileState.DOWNLOADING else self.state.label

    def cells(self, name_width: int = 24) -> tuple[str, str, str, str, str, str, str, str]:
        """Strings only (the state's colour as markup, names escaped): 20,000 rows hold no Rich objects. The name
        is shortened in the middle to ``name_width`` cells."""
        state, whole = self.state, self.whole_repo
        style = "bold red" if state is FileState.FAILED else "green" if state.finished else \
            "yellow" if state in (FileState.CANCELLED, FileState.PAUSED) else ""
        name = f"{self.repo_id} (whole repo)" if whole else self.path
        return (styled(self.label, style), plain(middle(printable(name), name_width)),
                "-" if whole else bar(self.done, self.total),
                rate(self.rate) if state is FileState.DOWNLOADING and self.done < self.total else "-",
                eta(self.total - self.done, self.rate) if state.active else "-",
                "-" if whole else size(self.total), plain(self.repo_id), plain(self.message or ""))

    def where(self) -> str:
        return f"{self.repo_id} (whole repo)" if self.whole_repo else f"{self.repo_id}/{self.path}"


class Tally:
    """The summary's figures, kept as events arrive: a 20,000-row queue is never summed again per redraw."""

    def __init__(self) -> None:
        self.states: Counter[FileState] = Counter()
        self.done = self.total = 0
        self.active: set[str] = set()  # keys of the rows downloading or hashing
        self.failed: dict[str, None] = {}  # keys of the failed rows, first failure first
        self.fetched = 0  # bytes that arrived in this run (not those kept from an earlier one)
        self.window = RateWindow()  # the bytes fetched over the last seconds, as the CLI's totals line reads them

    def speed(self, now: float) -> float | None:
        """Bytes a second over the last few seconds, from the first bytes on; None before a second of them.
        Small files, 160 finishing a second, each report no rate of their own while they are in flight."""
        return self.window.rate(now, self.fetched)

    def overall(self, now: float, streaming: list[FileRow]) -> float:
        """The summary's speed: what arrived over the last few seconds (0 when the files stall), and until that is
        known, the streaming files' own rates (their sum misses the small files, which finish before they report
        one)."""
        speed = self.speed(now)
        return sum(r.rate for r in streaming) if speed is None else speed

    def add(self, key: str, row: FileRow) -> None:
        self.states[row.state] += 1
        self.done += row.done
        self.total += row.total
        self._place(key, row.state)

    def change(self, key: str, row: FileRow, e: FileEvent) -> None:
        self.states[row.state] -= 1
        self.states[e.state] += 1
        self.done += e.done - row.done
        self.total += e.total - row.total
        if e.state is not FileState.QUEUED and e.done > row.done:
            self.fetched += e.done - row.done
        self._place(key, e.state)

    def _place(self, key: str, state: FileState) -> None:
        if state.active:
            self.active.add(key)
        else:
            self.active.discard(key)
        if state is FileState.FAILED:
            self.failed.setdefault(key)
        else:
            self.failed.pop(key, None)


class DownloadsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="dl-summary")
        table = LiveTable(id="dl-table", cursor_type="row")
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("", id="dl-detail")

    def on_mount(self) -> None:
        self.rows: dict[str, FileRow] = {}
        self.tally = Tally()
        self.planning: dict[str, str] = {}
        self.backlog: deque[str] = deque()  # keys of rows counted but not yet in the table
        self.draining = False  # a timer will add the next rows of the backlog
        self.dirty: dict[str, None] = {}  # keys of rows changed since they were last drawn
        self.painting = False  # a timer will draw the changed rows that were drawn too recently
        self.summary_due = False  # a timer will show the latest figures
        self.texts: dict[str, tuple[str, int]] = {}  # what the summary and detail lines show, and their height
        self.note = ""
        self.planning_note = False  # the note says what planning does: the first files replace it
        self.summary_at = self.sorted_at = 0.0
        self.unsorted = False
        self.name_width = COLUMNS[1][2]
        self.update_summary()

    def on_resize(self) -> None:
        """The name column takes what the other four of an 80-column screen leave, up to NAME_MAX; each name is
        shortened anew (rows not yet drawn take the new width when they are)."""
        width = max(NAME_MIN, min(NAME_MAX, self.size.width - BESIDE_NAME))
        if width == self.name_width:
            return
        self.name_width = width
        self.table.set_column_width("path", width)
        for key, row in self.rows.items():
            if row.in_table:
                row.shown_at = 0.0
                self.dirty[key] = None
        self._paint(time.monotonic())

    @property
    def table(self) -> LiveTable:
        return self.query_one("#dl-table", LiveTable)

    def reset(self, note: str = "", *, planning: bool = False) -> None:
        """Empty the pane; ``note`` under the summary (a ``planning`` one goes when the first files come)."""
        gc.unfreeze()  # the rows frozen by ``_drain`` go back to the collector as they are let go
        self.rows.clear()
        self.tally = Tally()
        self.planning = {}
        self.backlog.clear()
        self.dirty = {}
        self.table.clear()
        self.note, self.planning_note = note, planning
        self.update_summary()

    def say(self, note: str) -> None:
        """A note under the summary that stays (a cancel, a run's end) until the next one."""
        self.note, self.planning_note = note, False
        self.update_summary()

    def show_planning(self, steps: list[tuple[RepoRef, str]]) -> None:
        """Before the first row: what planning is doing, per repo (the latest step of each)."""
        self.planning.update((ref.repo_id, text) for ref, text in steps)
        self.note = "\n".join(f"planning {repo}: {text}" for repo, text in list(self.planning.items())[-3:])
        self.planning_note = True
        self.update_summary()

    def apply(self, events: list[FileEvent]) -> None:
        """Show a batch of events: new rows, changed cells only, a re-sort only when a state changed.

        A row is redrawn at most every PROGRESS_REDRAW seconds, state changes included (a row that changed
        sooner waits for the next paint), and only the cells whose text changed: over a slow SSH link the
        terminal gets a few bytes, not a full repaint, however many small files finish each second."""
        resort = False
        now = time.monotonic()
        if self.planning_note:  # the plan is made: its files say the rest
            self.note, self.planning_note = "", False
        for e in events:
            key = f"{e.repo_type}:{e.repo_id}:{e.path}"
            row = self.rows.get(key)
            if row is None:
                row = self._add(key, FileRow(e.repo_id, e.path, e.total, key=key))
                resort = True
            resort |= e.state is not row.state
            self.tally.change(key, row, e)
            row.done, row.total, row.rate, row.state = e.done, e.total, e.rate, e.state
            row.connections = e.connections
            row.message = e.message if e.state in (FileState.FAILED, FileState.DOWNLOADING) else None
            if row.in_table:  # a row still in the backlog enters the table with its latest cells
                self.dirty[key] = None
        self._paint(now)
        if self.backlog and not self.draining:
            self._drain()
        else:
            self._settle(resort, now)

    def _paint(self, now: float) -> None:
        """Redraw the changed rows last drawn PROGRESS_REDRAW ago or more; the others at the next paint."""
        table, rows = self.table, self.rows
        later: dict[str, None] = {}
        for key in self.dirty:
            row = rows.get(key)
            if row is None:
                continue
            if now - row.shown_at < PROGRESS_REDRAW:
                later[key] = None
                continue
            cells = row.cells(self.name_width)
            for (_label, col, _width), old, new in zip(COLUMNS, row.shown, cells, strict=True):
                if str(old) != str(new):
                    table.set_cell(key, col, new)
            row.shown, row.shown_at = cells, now
        self.dirty = later
        if later and not self.painting:
            self.painting = True
            self.set_timer(PROGRESS_REDRAW, self._paint_later)

    def _paint_later(self) -> None:
        self.painting = False
        self._paint(time.monotonic())

    def add_repo_errors(self, errors: list[tuple[str, str, str]]) -> None:
        """Repos that failed as a whole (not found, gated), ``(repo_id, repo_type, message)``: one red row each
        with the reason, sorted among the failures at once (one sort for the batch)."""
        for repo_id, repo_type, message in errors:
            key = f"{repo_type}:{repo_id}"
            if key not in self.rows:
                self._add(key, FileRow(repo_id, "", 0, state=FileState.FAILED, message=message, whole_repo=True,
                                       key=key))
        if errors:
            self.sorted_at = 0.0
            if self.backlog and not self.draining:
                self._drain()

    def _add(self, key: str, row: FileRow) -> FileRow:
        """Count the row at once; it enters the table through the backlog (``_drain``)."""
        self.rows[key] = row
        self.tally.add(key, row)
        self.backlog.append(key)
        return row

    def _drain(self) -> None:
        """Add up to ``ROWS_PER_FRAME`` rows from the backlog, then let the screen refresh (and keys through)
        before the next ones: 20,000 queued files show their first rows at once, the rest within seconds."""
        table, rows, backlog = self.table, self.rows, self.backlog
        self.draining = False
        for _ in range(min(ROWS_PER_FRAME, len(backlog))):
            row = rows.get(backlog.popleft())
            if row is None or row.in_table:
                continue
            row.shown, row.shown_at, row.in_table = row.cells(self.name_width), time.monotonic(), True
            table.add_row(*row.shown, key=row.key)
        self.unsorted = True
        self.sorted_at = 0.0 if table.row_count <= ROWS_PER_FRAME else self.sorted_at
        self._settle(True, time.monotonic())
        if backlog:
            self.draining = True
            self.set_timer(0.02, self._drain)
        elif table.row_count >= BIG_TABLE:
            # Every row is in: they live as long as the table. Frozen, the cyclic collector stops walking them;
            # at 20,000 rows each full collection walked them all, a 30-140 ms pause of the app (15 in 30 s).
            gc.freeze()

    def _settle(self, resort: bool, now: float) -> None:
        """Re-sort (at most every RESORT_EVERY) and refresh the summary and the detail line."""
        self.unsorted |= resort
        every = RESORT_EVERY if self.table.row_count < BIG_TABLE else 3 * RESORT_EVERY
        if self.unsorted and now - self.sorted_at >= every:
            self.unsorted, self.sorted_at = False, now
            rows = self.rows
            self.table.order_by(lambda key: STATE_RANK[rows[key].state], "state",
                                lambda label: RANK.get(Text.from_markup(str(label)).plain, 9))
        if (resort and len(self.rows) < BIG_TABLE) or now - self.summary_at >= PROGRESS_REDRAW:
            self.summary_at = now
            self.update_summary()
            self.show_detail()
        elif not self.summary_due:  # the latest figures within PROGRESS_REDRAW, however busy the batches
            self.summary_due = True
            self.set_timer(PROGRESS_REDRAW, self._summary_later)

    def _summary_later(self) -> None:
        self.summary_due = False
        self.summary_at = time.monotonic()
        self.update_summary()
        self.show_detail()

    def update_summary(self) -> None:
        t = self.tally
        streaming = [self.rows[k] for k in t.active if self.rows[k].state is FileState.DOWNLOADING]
        speed = t.overall(time.monotonic(), streaming)
        finished = t.states[FileState.DONE] + t.states[FileState.SKIPPED]
        active = sum(n for s, n in t.states.items() if s.active)
        ranged = sum(r.connections for r in streaming)
        conns = f" ({len(streaming) - sum(1 for r in streaming if r.connections) + ranged} connections)" \
            if ranged else ""
        text = (f"{size(t.done)} / {size(t.total)} · {rate(speed)} · ETA {eta(t.total - t.done, speed)} · "
                f"{active} active{conns} · {t.states[FileState.QUEUED]} queued · {finished} done · "
                f"{t.states[FileState.FAILED]} failed"
                + (f" · {t.states[FileState.PAUSED]} paused" if t.states[FileState.PAUSED] else "")
                + (f" · {t.states[FileState.CANCELLED]} cancelled" if t.states[FileState.CANCELLED] else ""))
        if self.note:
            text += f"\n{self.note}"
        self._show("#dl-summary", text if self.rows or self.note else self._idle())

    def _show(self, selector: str, text: str) -> None:
        """Update a line only when its text changed, and lay the screen out again only when the lines it takes
        did: a layout repaints the whole screen, 12 KB at 100x30, ten times a second while small files finish."""
        widget = self.query_one(selector, Static)
        width = max(1, widget.content_size.width)
        lines = sum(max(1, -(-len(line) // width)) for line in text.split("\n"))
        shown = self.texts.get(selector)
        if shown is not None and shown[0] == text:
            return
        self.texts[selector] = (text, lines)
        # never markup, and no control character: it holds names
        widget.update(Text(lines_printable(text)), layout=shown is None or shown[1] != lines)

    def repos_in_flight(self) -> list[str]:
        """The repos with a file queued or on its way (one pass over the rows, for an export's note)."""
        return sorted({row.repo_id for row in self.rows.values()
                       if not row.state.ended})

    def _idle(self) -> str:
        keys = current_keys(self.app)
        return (f"no downloads yet: tick repos in pane {keys['pane-select']} with {keys['toggle']}, "
                f"then press {keys['download']}")

    def show_detail(self) -> None:
        """The reason of the highlighted row, else of the first failure, else of a file being retried, in full
        (wrapped): a failure marked ✗, a retry ↻."""
        table = self.table
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        row = self.rows.get(str(key))
        if row is None or not row.message:
            first = next(iter(self.tally.failed), None)
            row = self.rows.get(first) if first is not None else None
        if row is None:  # the few files in flight, not the table: a retry's reason is seen without a key
            row = next((r for r in map(self.rows.__getitem__, self.tally.active) if r.message), None)
        detail = ""
        if row is not None and row.message:
            detail = f"{'✗' if row.state is FileState.FAILED else '↻'} {row.where()}: {row.message}"
        self._show("#dl-detail", detail)

    def highlighted_repo(self) -> RepoRef | None:
        """The repo of the highlighted row (its key is ``type:id:path``)."""
        table = self.table
        if table.row_count == 0:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        repo_type, _, rest = key.partition(":")
        return RepoRef(repo_type, rest.partition(":")[0])  # type: ignore[arg-type]

    def on_data_table_row_highlighted(self) -> None:
        self.show_detail()
