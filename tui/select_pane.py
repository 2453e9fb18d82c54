"""Pane 1, Select: the catalog as checkbox rows, grouped Models then Datasets, with sizes and local status."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from core.local.inventory import LocalRepo
from core.local.verify import VerifyResult
from core.plan import RepoPlan
from core.profiles import PROFILES, next_profile
from core.repos import RepoRef
from core.results import RunResult
from core.states import LocalState, RepoStatus, gated_short

from .bindings import key_of
from .format import short_sha, size

GROUPS = (("model", "Models"), ("dataset", "Datasets"))
LOCAL_STYLES = {LocalState.FAILED: "bold red", LocalState.VERIFIED: "green", LocalState.COMPLETE: "green",
                LocalState.PARTIAL: "yellow"}


@dataclass
class Entry:
    """One repo row: the repo, whether it is ticked, what the Hub and the disk say of it."""

    ref: RepoRef
    selected: bool = False
    plan: RepoPlan | None = None
    local: LocalState = LocalState.ABSENT
    snapshot: str | None = None
    profile: str = PROFILES[0]

    @property
    def key(self) -> str:
        return f"{self.ref.repo_type}:{self.ref.repo_id}"

    @property
    def behind(self) -> bool:
        """On disk at another commit than the Hub's main (as the listing, checked like the sizes, says)."""
        listing = self.plan.listing if self.plan is not None else None
        return (self.local is not LocalState.ABSENT and listing is not None and self.plan is not None
                and self.plan.origin is None and self.snapshot is not None and listing.commit != self.snapshot)

    def size_cell(self) -> str:
        if self.plan is None:
            return "…"
        if self.plan.status is RepoStatus.GATED:
            return gated_short(self.plan.message)
        if not self.plan.ok:
            return self.plan.status.short
        return size(self.plan.bytes_total)

    def cells(self) -> tuple[Text, str, str, Text, str, str]:
        style = LOCAL_STYLES.get(self.local, "")
        origin = self.plan.origin if self.plan is not None else None
        repo = f"{self.ref.repo_id} · {origin.short}" if origin is not None else self.ref.repo_id  # who serves it
        profile = origin.profile(self.profile) if origin is not None else \
            self.profile if self.ref.repo_type == "model" else "-"
        local = Text("behind", style="yellow") if self.behind else Text(self.local.label, style=style)
        return (Text("[x]" if self.selected else "[ ]"), repo, self.size_cell(), local, short_sha(self.snapshot),
                profile)

    def next_profile(self) -> str:
        """The next profile: the Hub's three for a model, an off-Hub source's own for a source's row."""
        origin = self.plan.origin if self.plan is not None else None
        if origin is not None:
            names = list(origin.profiles)
            self.profile = names[(names.index(origin.profile(self.profile)) + 1) % len(names)]
        else:
            self.profile = next_profile(self.profile if self.profile in PROFILES else PROFILES[-1])
        return self.profile


class RepoTable(DataTable[object]):
    """The catalog table; group headings are rows whose key starts with ``group:``."""


class SelectPane(Vertical):
    def __init__(self, entries: dict[str, Entry], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.entries = entries
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter repos (Enter to keep, Esc to clear)", id="filter")
        table = RepoTable(id="repo-table", cursor_type="row", zebra_stripes=False)
        table.add_column("SEL", key="sel", width=3)
        table.add_column("REPO", key="repo", width=38)
        table.add_column("SIZE", key="size", width=11)
        table.add_column("LOCAL", key="local", width=9)
        table.add_column("SNAPSHOT", key="snapshot", width=8)
        table.add_column("PROFILE", key="profile", width=12)
        yield table
        yield Static(id="select-summary")

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.rebuild()

    @property
    def table(self) -> RepoTable:
        return self.query_one(RepoTable)

    def rebuild(self) -> None:
        """Lay out the rows again (after a filter change or a new repo), keeping the cursor on its repo."""
        table = self.table
        current = self.current_key()
        table.clear()
        needle = self.filter_text.lower()
        for repo_type, title in GROUPS:
            rows = [e for e in self.entries.values()
                    if e.ref.repo_type == repo_type and needle in e.ref.repo_id.lower()]
            if not rows:
                continue
            table.add_row("", Text(title, style="bold"), "", "", "", "", key=f"group:{repo_type}")
            for e in rows:
                table.add_row(*e.cells(), key=e.key)
        self.move_to(current)
        self.update_summary()

    def move_to(self, key: str | None) -> None:
        table = self.table
        if key is not None and key in table.rows:
            table.move_cursor(row=table.get_row_index(key))
        else:
            first = next((i for i, rk in enumerate(table.rows) if not str(rk.value).startswith("group:")), 0)
            table.move_cursor(row=first)

    def current_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if key in self.entries else None

    def refresh_entry(self, key: str) -> None:
        table = self.table
        if key not in table.rows:
            return
        for col, value in zip(("sel", "repo", "size", "local", "snapshot", "profile"), self.entries[key].cells(),
                              strict=True):
            table.update_cell(key, col, value)

    def on_data_table_row_highlighted(self) -> None:
        self.update_summary()

    # --- the filter box -------------------------------------------------------------------------
    def open_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value
            self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.table.focus()

    def key_escape(self) -> None:
        """Esc clears and closes the filter."""
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.table.focus()

    # --- what the Hub and the disk say of the repos ---------------------------------------------
    def selected_refs(self) -> list[RepoRef]:
        return [e.ref for e in self.entries.values() if e.selected]

    def profiles(self) -> dict[RepoRef, str]:
        return {e.ref: e.profile for e in self.entries.values()}

    def show_plan(self, rp: RepoPlan) -> None:
        """A repo's plan: its size and status, unless it was made for a profile the row no longer has."""
        entry = self.entries.get(f"{rp.ref.repo_type}:{rp.ref.repo_id}") or \
            self.entries.get(f"{rp.ref.repo_type}:{rp.requested_id}")
        if entry is None:
            return
        asked = rp.origin.profile(entry.profile) if rp.origin is not None else entry.profile  # a source's own name
        if rp.profile != asked and rp.ref.repo_type == "model" and rp.dependency_of is None:
            return
        entry.plan = rp
        if rp.listing is not None and entry.local is LocalState.ABSENT and rp.bytes_present:
            entry.local = LocalState.PARTIAL
        self.refresh_entry(entry.key)

    def show_local(self, repos: list[LocalRepo]) -> None:
        """What the disk holds; a verdict of the last verify stands while the folder is there."""
        by_path = {r.path: r for r in repos}
        for e in self.entries.values():
            local = by_path.get(e.ref.relpath())
            if local is None:
                state, snap = LocalState.ABSENT, None
            else:
                state = LocalState.COMPLETE if local.complete else LocalState.PARTIAL
                snap = local.snapshot_id
            if e.local in (LocalState.VERIFIED, LocalState.FAILED) and state is not LocalState.ABSENT:
                state = e.local
            e.local, e.snapshot = state, snap
            self.refresh_entry(e.key)

    def show_downloaded(self, result: RunResult) -> None:
        for r in result.repos:
            entry = self.entries.get(f"{r.repo_type}:{r.repo_id}")
            if entry is not None:
                entry.local = LocalState.COMPLETE if r.ok else LocalState.FAILED

    def show_verified(self, result: VerifyResult) -> None:
        bad = {(p.repo_type, p.repo_id) for p in result.problems}
        checked = result.repos
        for e in self.entries.values():
            key = (e.ref.repo_type, e.ref.repo_id)
            if key in checked:
                e.local = LocalState.FAILED if key in bad else LocalState.VERIFIED
                self.refresh_entry(e.key)

    def toggle_current(self) -> None:
        key = self.current_key()
        if key is None:
            return
        entry = self.entries[key]
        entry.selected = not entry.selected
        self.refresh_entry(key)
        self.update_summary()

    def update_summary(self, free: int | None = None) -> None:
        if free is not None:
            self.free = free
        chosen = [e for e in self.entries.values() if e.selected]
        known = [e.plan for e in chosen if e.plan is not None and e.plan.ok]
        to_fetch = sum(p.bytes_to_fetch for p in known)
        pending = len(chosen) - len(known)
        ticked = {e.ref.repo_id.lower() for e in chosen}
        deps = sorted({d for p in known for d in p.depends if d.lower() not in ticked})
        text = f"{len(chosen)} selected"
        if deps:
            text += f" (+ {', '.join(deps)}, needed)"
        text += f" · {size(to_fetch)} to fetch"
        if pending:
            text += f" (+{pending} not sized yet)"
        free_now = getattr(self, "free", None)
        text += f" · {size(free_now)} free"
        if free_now is not None and to_fetch > free_now:
            text += " · NOT ENOUGH SPACE"
        key = self.current_key() if self.is_mounted else None
        entry = self.entries[key] if key is not None else None
        origin = entry.plan.origin if entry is not None and entry.plan is not None else None
        if entry is not None and (entry.ref.repo_type == "model" or origin is not None):
            shown = origin.profile(entry.profile) if origin is not None else entry.profile
            text += f" · profile {shown} ({key_of(self.app, 'profile')})"
        self.query_one("#select-summary", Static).update(text)
