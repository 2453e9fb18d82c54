"""The Textual app: a thin face on ``core``. Every slow call runs in a thread worker that posts messages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import ContentSwitcher, DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from core import checksums, inventory
from core.catalog import CatalogError, default_catalog, load_catalog
from core.download import Downloader, FileEvent
from core.errors import describe
from core.lock import LockHeld, root_lock
from core.plan import Plan, RepoPlan, free_space, make_plan
from core.progress import Coalescer
from core.repos import RepoRef
from core.settings import Settings
from core.sizes import human
from core.verify import FileCheck, verify, write_report

from .commands import MusicgenCommands
from .downloads_pane import DownloadsPane
from .inventory_pane import InventoryPane
from .messages import (
    DownloadFinished,
    DownloadPlanned,
    DownloadProgress,
    Exported,
    LocalScanned,
    RepoPlanned,
    VerifyFinished,
    VerifyProgress,
    VerifyQueued,
)
from .screens import AddRepoScreen, ConfirmScreen, HelpScreen
from .select_pane import Entry, SelectPane
from .verify_pane import VerifyPane

PANES = ("select", "downloads", "inventory", "verify")
TITLES = {"select": "Select", "downloads": "Downloads", "inventory": "Inventory", "verify": "Verify"}
LOG_NAME = "musicgen-tui.log"
log = logging.getLogger("musicgen_tui")


class MusicgenApp(App[int]):
    """Select repos, watch every file download, inspect the workspace, verify live, export."""

    CSS_PATH = "app.tcss"
    TITLE = "musicgen-tui"
    COMMANDS = App.COMMANDS | {MusicgenCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "tick", "Tick", id="toggle", tooltip="Tick or untick the highlighted repo"),
        Binding("d", "download", "Download", id="download", tooltip="Download the ticked repos"),
        Binding("v", "verify", "Verify", id="verify", tooltip="Verify the ticked repos, else everything"),
        Binding("e", "export", "Export", id="export", tooltip="Write the inventories and checksum files"),
        Binding("c", "cancel", "Cancel", id="cancel", tooltip="Cancel downloads; partial files are kept"),
        Binding("1", "pane('select')", "Select", id="pane-select", show=False),
        Binding("2", "pane('downloads')", "Downloads", id="pane-downloads", show=False),
        Binding("3", "pane('inventory')", "Inventory", id="pane-inventory", show=False),
        Binding("4", "pane('verify')", "Verify", id="pane-verify", show=False),
        Binding("slash", "filter", "Filter", id="filter", show=False),
        Binding("n", "add_repo", "Add repo", id="add-repo", show=False),
        Binding("p", "profile", "Profile", id="profile", show=False,
                tooltip="Cycle the highlighted model's profile: full, audiocraft, transformers"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Stop downloads, keep partial files, exit"),
    ]

    def __init__(self, settings: Settings, *, background: bool = True,
                 disk_free: Callable[[Path], int] = free_space) -> None:
        super().__init__()
        self.settings = settings
        self.background = background
        self.disk_free = disk_free
        self.catalog_error: str | None = None
        try:
            self.catalog = load_catalog(settings.root)
        except CatalogError as e:
            self.catalog, self.catalog_error = default_catalog(), str(e)
        self.entries: dict[str, Entry] = {}
        for ref in self.catalog.refs():
            entry = Entry(ref)
            self.entries[entry.key] = entry
        self.cancel_event = threading.Event()
        self.downloading = False

    # --- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        s = self.settings
        yield Static(Text(f" token {s.token_state} · root {s.root} · hub {s.endpoint}"), id="status-bar")
        yield Static(Text(self._tabs("select")), id="tabs")
        with ContentSwitcher(initial="select", id="panes"):
            yield SelectPane(self.entries, id="select")
            yield DownloadsPane(id="downloads")
            yield InventoryPane(id="inventory")
            yield VerifyPane(id="verify")
        yield Footer(show_command_palette=False)

    def _tabs(self, active: str) -> str:
        return "  ".join(f"[{i}] {TITLES[p]} ◀" if p == active else f" {i}  {TITLES[p]}  "
                         for i, p in enumerate(PANES, 1))

    def on_mount(self) -> None:
        self._setup_log()
        self.select_pane.update_summary(self.disk_free(self.settings.root))
        self.select_pane.table.focus()
        if self.catalog_error:
            self.notify(f"catalog.toml ignored: {self.catalog_error}", severity="error", timeout=15)
        if self.background:
            self.scan_local()
            self.plan_catalog()

    def _setup_log(self) -> None:
        """Errors go to ``musicgen-tui.log`` in this app's root, opened only when there is something to say."""
        for old in list(log.handlers):
            log.removeHandler(old)
            old.close()
        handler = logging.FileHandler(self.settings.root / LOG_NAME, delay=True, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

    @property
    def select_pane(self) -> SelectPane:
        return self.query_one(SelectPane)

    @property
    def downloads_pane(self) -> DownloadsPane:
        return self.query_one(DownloadsPane)

    @property
    def inventory_pane(self) -> InventoryPane:
        return self.query_one(InventoryPane)

    @property
    def verify_pane(self) -> VerifyPane:
        return self.query_one(VerifyPane)

    @property
    def current_pane(self) -> str:
        return self.query_one(ContentSwitcher).current or "select"

    # --- actions ------------------------------------------------------------------------------
    def action_pane(self, pane: str) -> None:
        self.query_one(ContentSwitcher).current = pane
        self.query_one("#tabs", Static).update(Text(self._tabs(pane)))
        table = self.query_one(f"#{pane}").query(DataTable).first()
        table.focus()
        if pane == "inventory" and self.background:
            self.scan_local()

    def action_tick(self) -> None:
        if self.current_pane == "select":
            self.select_pane.toggle_current()

    def action_profile(self) -> None:
        key = self.select_pane.current_key() if self.current_pane == "select" else None
        if key is None:
            return
        entry = self.entries[key]
        if entry.ref.repo_type != "model":
            self.notify("Profiles apply to models; a dataset is always fetched whole.")
            return
        profile = entry.next_profile()
        entry.plan = None
        self.select_pane.refresh_entry(key)
        self.notify(f"{entry.ref.repo_id}: profile {profile}")
        if self.background:
            self.plan_repos([entry.ref])

    def action_filter(self) -> None:
        self.action_pane("select")
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.select_pane.filter_text = event.value
            self.select_pane.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.select_pane.table.focus()

    def key_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.select_pane.table.focus()

    def action_add_repo(self) -> None:
        def added(ref: RepoRef | None) -> None:
            if ref is None:
                return
            entry = Entry(ref)
            if entry.key not in self.entries:
                self.entries[entry.key] = entry
            self.entries[entry.key].selected = True
            self.action_pane("select")
            self.select_pane.rebuild()
            self.select_pane.move_to(entry.key)
            if self.background:
                self.plan_repos([ref])

        self.push_screen(AddRepoScreen(), added)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def selected_refs(self) -> list[RepoRef]:
        return [e.ref for e in self.entries.values() if e.selected]

    def action_download(self) -> None:
        refs = self.selected_refs()
        if not refs:
            self.notify("Nothing ticked: highlight a repo in pane 1 and press space, then d.", severity="warning")
            return
        if self.downloading:
            self.notify("A download is already running (c cancels it).", severity="warning")
            return
        self.downloading = True
        self.cancel_event = threading.Event()
        self.action_pane("downloads")
        self.downloads_pane.reset(f"planning {len(refs)} repos…")
        self.plan_download(refs)

    def on_download_planned(self, message: DownloadPlanned) -> None:
        plan = message.plan
        for rp in plan.repos:
            if not rp.ok:
                self.downloads_pane.add_repo_error(rp.ref.repo_id, rp.ref.repo_type, rp.message or rp.status)
            self._set_plan(rp)
        if self.cancel_event.is_set():
            self._download_done("cancelled before the first byte")
            return
        if plan.space_ok:
            self.start_download(plan)
            return
        question = (f"Not enough free space at {plan.root}: this needs {human(plan.bytes_needed)} "
                    f"({human(plan.bytes_to_fetch)} to fetch + {human(plan.min_free)} margin) and "
                    f"{human(plan.free_bytes)} is free.\nDownload anyway?")

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_download(plan)
            else:
                self._download_done("not started: not enough free space")

        self.push_screen(ConfirmScreen(question), answered)

    def action_cancel(self) -> None:
        if self.downloading:
            self.cancel_event.set()
            self.downloads_pane.note = "cancelling… partial files are kept for resume"
            self.downloads_pane.update_summary()
        else:
            self.notify("No download is running.")

    def action_verify(self) -> None:
        refs = self.selected_refs() or None
        self.action_pane("verify")
        self.verify_pane.start()
        self.run_verify(refs)

    def action_export(self) -> None:
        self.notify("Exporting inventories and checksums…")
        self.run_export()

    async def action_quit(self) -> None:
        self.cancel_event.set()
        self.exit(0)

    # --- workers: every slow call is here, and they only post messages ------------------------
    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_local(self) -> None:
        self.post_message(LocalScanned(inventory.scan(self.settings.root)))

    def profiles(self) -> dict[RepoRef, str]:
        return {e.ref: e.profile for e in self.entries.values()}

    @work(thread=True, exclusive=True, group="catalog-plan", exit_on_error=False)
    def plan_catalog(self) -> None:
        make_plan(self.settings, [e.ref for e in self.entries.values()], profile=self.profiles(),
                  catalog=self.catalog, dependencies=False, on_repo=lambda rp: self.post_message(RepoPlanned(rp)))

    @work(thread=True, group="repo-plan", exit_on_error=False)
    def plan_repos(self, refs: list[RepoRef]) -> None:
        make_plan(self.settings, refs, profile=self.profiles(), catalog=self.catalog, dependencies=False,
                  on_repo=lambda rp: self.post_message(RepoPlanned(rp)))

    @work(thread=True, exclusive=True, group="download-plan", exit_on_error=False)
    def plan_download(self, refs: list[RepoRef]) -> None:
        self.post_message(DownloadPlanned(make_plan(self.settings, refs, profile=self.profiles(),
                                                    catalog=self.catalog)))

    def start_download(self, plan: Plan) -> None:
        self.downloads_pane.note = ""
        self.run_download(plan)

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def run_download(self, plan: Plan) -> None:
        relay: Coalescer[FileEvent] = Coalescer(lambda batch: self.post_message(DownloadProgress(batch)),
                                                key=lambda e: (e.repo_type, e.repo_id, e.path))
        try:
            with root_lock(self.settings.root):
                result = Downloader(self.settings, relay.push, cancel=self.cancel_event).run(plan)
        except LockHeld as e:
            self.post_message(DownloadFinished(None, str(e)))
            return
        finally:
            relay.flush()
        self.post_message(DownloadFinished(result))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def run_verify(self, refs: list[RepoRef] | None) -> None:
        relay: Coalescer[FileCheck] = Coalescer(lambda batch: self.post_message(VerifyProgress(batch)),
                                                key=lambda c: (c.source, c.repo_id, c.path))
        result = verify(self.settings.root, refs, on_check=relay.push,
                        on_queued=lambda files: self.post_message(VerifyQueued(files)))
        relay.flush()
        self.post_message(VerifyFinished(result, write_report(self.settings.root, result)))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def run_export(self) -> None:
        repos = inventory.scan(self.settings.root)
        paths = list(inventory.write(self.settings.root, repos).values())
        paths += [c.path for c in checksums.write_checksums(self.settings.root, repos=repos)]
        self.post_message(Exported(paths))
        self.post_message(LocalScanned(repos))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures land: a line on screen, the details in the log file."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        assert error is not None
        message = describe(error, token=self.settings.token)
        log.error("%s failed: %s", event.worker.group, message, exc_info=error)
        self.notify(f"{event.worker.group}: {message} (details in {LOG_NAME})", severity="error", timeout=10)
        if event.worker.group in ("download", "download-plan"):
            self._download_done(f"stopped: {message}")

    # --- messages from workers ----------------------------------------------------------------
    def on_repo_planned(self, message: RepoPlanned) -> None:
        self._set_plan(message.plan)
        self.select_pane.update_summary()

    def _set_plan(self, rp: RepoPlan) -> None:
        entry = self.entries.get(f"{rp.ref.repo_type}:{rp.ref.repo_id}") or \
            self.entries.get(f"{rp.ref.repo_type}:{rp.requested_id}")
        if entry is None:
            return
        if rp.profile != entry.profile and rp.ref.repo_type == "model" and rp.dependency_of is None:
            return  # a plan for a profile this row no longer has
        entry.plan = rp
        if rp.listing is not None and entry.local == "absent" and rp.bytes_present:
            entry.local = "partial"
        self.select_pane.refresh_entry(entry.key)

    def on_local_scanned(self, message: LocalScanned) -> None:
        by_path = {r.path: r for r in message.repos}
        for e in self.entries.values():
            local = by_path.get(e.ref.relpath())
            if local is None:
                state, snap = "absent", None
            else:
                state, snap = ("complete" if local.complete else "partial"), local.snapshot_id
            if e.local in ("verified", "failed") and state != "absent":
                state = e.local
            e.local, e.snapshot = state, snap
            self.select_pane.refresh_entry(e.key)
        self.inventory_pane.show(message.repos)

    def on_download_progress(self, message: DownloadProgress) -> None:
        self.downloads_pane.apply(message.events)

    def on_download_finished(self, message: DownloadFinished) -> None:
        result = message.result
        if result is None:
            self._download_done(message.error or "failed")
            return
        failed = {(r.repo_type, r.repo_id) for r in result.repos if not r.ok}
        for r in result.repos:
            if r.error:
                self.downloads_pane.add_repo_error(r.repo_id, r.repo_type, r.error)
            entry = self.entries.get(f"{r.repo_type}:{r.repo_id}")
            if entry is not None:
                entry.local = "failed" if (r.repo_type, r.repo_id) in failed else "complete"
        if result.cancelled:
            note = f"cancelled: {human(result.bytes_fetched)} fetched, partial files kept (d resumes)"
        elif result.ok:
            note = f"finished: {human(result.bytes_fetched)} fetched, every file checked against the Hub's hash"
        else:
            note = f"finished with failures: {len(failed)} repo(s) failed (reasons in red above)"
        self._download_done(note)

    def _download_done(self, note: str) -> None:
        self.downloading = False
        self.downloads_pane.note = note
        self.downloads_pane.update_summary()
        self.select_pane.update_summary(self.disk_free(self.settings.root))
        if self.background:
            self.scan_local()
            self.plan_repos(self.selected_refs())

    def on_verify_queued(self, message: VerifyQueued) -> None:
        self.verify_pane.queued(message.files)

    def on_verify_progress(self, message: VerifyProgress) -> None:
        self.verify_pane.apply(message.checks)

    def on_verify_finished(self, message: VerifyFinished) -> None:
        result = message.result
        self.verify_pane.apply([c for c in result.checks if c.source != "hub"])
        report = message.report.relative_to(self.settings.root).as_posix()
        self.verify_pane.finish(result, report)
        bad = {p.repo_id for p in result.problems}
        checked = {c.repo_id for c in result.checks if c.source == "hub"}
        for e in self.entries.values():
            if e.ref.repo_id in checked:
                e.local = "failed" if e.ref.repo_id in bad else "verified"
                self.select_pane.refresh_entry(e.key)

    def on_exported(self, message: Exported) -> None:
        names = ", ".join(p.relative_to(self.settings.root).as_posix() for p in message.paths)
        self.notify(f"Wrote {names}", title="Exported", timeout=8)
        self.inventory_pane.note = f"exported: {names}"


def make_app(settings: Settings, **kwargs: object) -> MusicgenApp:
    """The one app factory, used by the CLI and the tests."""
    return MusicgenApp(settings, **kwargs)  # type: ignore[arg-type]
