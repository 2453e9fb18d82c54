"""Pane 3, Inventory: one row per local repo (the data the JSON inventories are made of) and its details."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from core.local.inventory import LocalRepo

from .format import lines_printable, plain, short_sha, size

DETAIL_FILES = 40


class InventoryPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("reading the workspace…", id="inv-summary")
        table = DataTable[object](id="inv-table", cursor_type="row")
        for label, key, width in (("PATH", "path", 40), ("SIZE", "size", 10), ("FILES", "files", 6),
                                  ("SNAPSHOT", "snapshot", 8), ("COMPLETE", "complete", 8)):
            table.add_column(label, key=key, width=width)
        yield table
        with VerticalScroll(id="inv-detail-box"):
            yield Static("", id="inv-detail")

    def on_mount(self) -> None:
        self.repos: dict[str, LocalRepo] = {}
        self.ready: dict[str, str] = {}  # model id -> what it is ready for offline
        self.note = ""

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#inv-table", DataTable)

    def show(self, repos: list[LocalRepo], ready: dict[str, str] | None = None) -> None:
        self.ready = ready or {}
        table = self.table
        current = None
        if table.row_count:
            current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        self.repos = {r.path: r for r in repos}
        for r in repos:
            complete = Text("yes ✓", style="green") if r.complete else Text("no ✗", style="yellow")
            table.add_row(plain(r.path), size(r.size_bytes), str(r.file_count), short_sha(r.snapshot_id), complete,
                          key=r.path)
        if current in self.repos:
            table.move_cursor(row=table.get_row_index(current))
        total = sum(r.size_bytes for r in repos)
        text = f"{len(repos)} local repos · {size(total)}" if repos else "nothing downloaded yet"
        self.query_one("#inv-summary", Static).update(text + (f"\n{self.note}" if self.note else ""))
        self.show_detail()

    def show_detail(self) -> None:
        table = self.table
        detail = self.query_one("#inv-detail", Static)
        if table.row_count == 0:
            detail.update("")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        r = self.repos.get(str(key))
        if r is None:
            return
        lines = [f"{r.repo_id} ({r.repo_type}) · snapshot {r.snapshot_id or 'unknown'}"]
        if r.repo_id in self.ready:
            lines.append(self.ready[r.repo_id])
        if r.repo_type == "model":
            lines += [f"  {size(s):>10}  {p}" for p, s in r.files[:DETAIL_FILES]]
            if len(r.files) > DETAIL_FILES:
                lines.append(f"  … and {len(r.files) - DETAIL_FILES} more")
        else:
            lines.append("largest files:")
            lines += [f"  {size(s):>10}  {p}" for p, s in r.top_files()]
            if r.readme_excerpt:
                lines += ["README:", r.readme_excerpt]
        detail.update(Text(lines_printable("\n".join(lines))))

    def highlighted(self) -> LocalRepo | None:
        table = self.table
        if table.row_count == 0:
            return None
        return self.repos.get(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def on_data_table_row_highlighted(self) -> None:
        self.show_detail()
