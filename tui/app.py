"""The Textual app: a thin face on ``core``. Every slow call runs in a thread worker that is handed what it needs
(repos, profiles, a cancel event) and only posts messages back; widgets never block on I/O."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import BindingType, Keymap
from textual.widgets import ContentSwitcher, DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from core.catalog import CatalogError, default_catalog, load_catalog
from core.hub.errors import describe
from core.local.safeio import shared_root_warning
from core.local.space import free_space
from core.repos import RepoRef
from core.service.requests import Cancel, Limit, Pause, Priority, Resume, Submit
from core.service.tracker import JobTracker
from core.service.watch import Watch
from core.settings import Settings
from core.sizes import compact, human

from . import messages as m
from .bindings import BINDINGS, current_keys, key_lines, key_of, parse_keymap
from .commands import MusicgenCommands
from .downloads_pane import DownloadsPane
from .inventory_pane import InventoryPane
from .logfile import LOG_NAME, log, log_to
from .screens import AddRepoScreen, HelpScreen, LimitScreen
from .select_pane import Entry, SelectPane
from .verify_pane import VerifyPane
from .workspace_keys import WorkspaceKeys

PANES = ("select", "downloads", "inventory", "verify")
TITLES = {"select": "Select", "downloads": "Downloads", "inventory": "Inventory", "verify": "Verify"}


class MusicgenApp(WorkspaceKeys):
    """Select repos, watch every file download, inspect the workspace, verify live, export."""

    CSS_PATH = "app.tcss"
    TITLE = "musicgen-tui"
    COMMANDS = App.COMMANDS | {MusicgenCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = list(BINDINGS)

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
        self.closing = threading.Event()  # set on quit: every worker stops at its next step
        # The downloads are the root's service's (``core.service``): the app hands them over and watches.
        self.service_watch = Watch(settings.root)
        self.watching = False
        self.tracker = JobTracker(keep_files=False)  # the Downloads pane holds the files
        self.run_results = []
        self.farewell = ""  # what quitting leaves behind, printed after the app
        self.unavailable: dict[tuple[str, str], str] = {}  # ticked repos this endpoint lacks, at the last verify
        self.keymap: dict[str, str] = {}  # what set_keymap was given: the help and the hints show it
        keymap, self.keymap_errors = parse_keymap(settings.keymap)
        self.set_keymap(keymap)

    def set_keymap(self, keymap: Keymap) -> None:
        self.keymap = dict(keymap)
        super().set_keymap(keymap)

    def update_keymap(self, keymap: Keymap) -> None:
        self.keymap.update(keymap)
        super().update_keymap(keymap)

    # --- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._status_text(), id="status-bar")
        yield Static(Text(self._tabs("select")), id="tabs")
        with ContentSwitcher(initial="select", id="panes"):
            yield SelectPane(self.entries, id="select")
            yield DownloadsPane(id="downloads")
            yield InventoryPane(id="inventory")
            yield VerifyPane(id="verify")
        yield Footer(show_command_palette=False)

    def _status_text(self, against_lock: str = "") -> Text:
        """The header: the token, the root (and how it stands against its musicgen.lock), the endpoint."""
        s = self.settings
        lock = f" ({against_lock})" if against_lock else ""
        return Text(f" token {s.token_state} · root {s.root}{lock} · hub {s.endpoint}")

    def _tabs(self, active: str) -> str:
        """The pane tabs, each with its key (as the keymap has it)."""
        keys = current_keys(self)
        tabs = []
        for p in PANES:
            key = keys[f"pane-{p}"]
            tabs.append(f"[{key}] {TITLES[p]} ◀" if p == active else f" {key}  {TITLES[p]}  ")
        return "  ".join(tabs)

    def on_mount(self) -> None:
        log_to(self.settings.root / LOG_NAME)
        self.select_pane.update_summary(self.disk_free(self.settings.root))
        self.select_pane.table.focus()
        for problem in [self.catalog_error and f"catalog.toml ignored: {self.catalog_error}", *self.keymap_errors,
                        shared_root_warning(self.settings.root, once=False)]:
            if problem:
                self.notify(problem, severity="error", timeout=15)
        if self.background:
            self.scan_local()
            self.plan_catalog(self.select_pane.profiles())
            self._follow_service()  # a service already downloading into the root shows at once

    # --- actions ------------------------------------------------------------------------------
    def action_pane(self, pane: str) -> None:
        self.query_one(ContentSwitcher).current = pane
        self.query_one("#tabs", Static).update(Text(self._tabs(pane)))
        self.query_one(f"#{pane}").query(DataTable).first().focus()
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
        if entry.ref.repo_type != "model" and (entry.plan is None or entry.plan.origin is None):
            self.notify("Profiles apply to models and off-Hub sources; a Hub dataset is always fetched whole.")
            return
        profile = entry.next_profile()
        entry.plan = None
        self.select_pane.refresh_entry(key)
        self.notify(f"{entry.ref.repo_id}: profile {profile}")
        if self.background:
            self.plan_repos({entry.ref: profile})

    def action_filter(self) -> None:
        self.action_pane("select")
        self.select_pane.open_filter()

    def action_add_repo(self) -> None:
        def added(ref: RepoRef | None) -> None:
            if ref is None:
                return
            entry = self.entries.setdefault(Entry(ref).key, Entry(ref))
            entry.selected = True
            self.action_pane("select")
            self.select_pane.rebuild()
            self.select_pane.move_to(entry.key)
            if self.background:
                self.plan_repos({entry.ref: entry.profile})

        self.push_screen(AddRepoScreen(), added)

    def action_refresh(self) -> None:
        """List every repo on the Hub again: new commits, new files, access granted meanwhile."""
        for entry in self.entries.values():
            entry.plan = None
        self.select_pane.rebuild()
        self.notify(f"Listing {len(self.entries)} repos on the Hub again")
        if self.background:
            self.plan_catalog(self.select_pane.profiles(), refresh=True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_lines(self)))

    def action_download(self) -> None:
        refs = self.select_pane.selected_refs()
        if not refs:
            self.notify(f"Nothing ticked: highlight a repo in pane {key_of(self, 'pane-select')} and press "
                        f"{key_of(self, 'toggle')}, then {key_of(self, 'download')}.", severity="warning")
            return
        if self.downloading:
            self.notify(f"A download is already running ({key_of(self, 'cancel')} cancels it).", severity="warning")
            return
        profiles = self.select_pane.profiles()
        self.action_pane("downloads")
        self.downloads_pane.reset(f"planning {len(refs)} repo{'s' if len(refs) != 1 else ''}…", planning=True)
        self._submit(Submit(tuple(refs), profiles=tuple((r, p) for r, p in profiles.items() if r in refs),
                            cache="write"))

    def action_cancel(self) -> None:
        if self.downloading:
            self.cancel_event.set()
            self.ask_service(Cancel())
            self.downloads_pane.say("cancelling… partial files are kept for resume")
        else:
            self.notify("No download is running.")

    def action_pause(self, everything: bool) -> None:
        """Pause, or resume, the highlighted row's repo in the Downloads pane (``everything``: all downloads)."""
        controls = self.tracker.controls
        if everything:
            self.ask_service(Resume() if controls.paused_all else Pause())
            return
        ref = self.downloads_pane.highlighted_repo() if self.current_pane == "downloads" else None
        if ref is None:
            self.notify(f"Highlight a file in pane {key_of(self, 'pane-downloads')} to pause its repo.")
            return
        self.ask_service(Resume(ref) if ref in controls.paused else Pause(ref))

    def action_priority(self, place: str) -> None:
        ref = self.downloads_pane.highlighted_repo() if self.current_pane == "downloads" else None
        if ref is None:
            self.notify(f"Highlight a file in pane {key_of(self, 'pane-downloads')} to move its repo.")
            return
        self.ask_service(Priority(ref, "first" if place == "first" else "last"))

    def action_limit(self) -> None:
        def chosen(rate: int | None) -> None:
            if rate is not None:
                self.ask_service(Limit(rate))

        self.push_screen(LimitScreen(self.tracker.controls.max_rate), chosen)

    def action_verify(self) -> None:
        self.action_pane("verify")
        self.verify_pane.start()
        self.unavailable = {(e.ref.repo_type, e.ref.repo_id): e.plan.status.label for e in self.entries.values()
                            if e.selected and e.plan is not None and not e.plan.ok}
        self.run_verify(self.select_pane.selected_refs() or None, self.unavailable)

    def action_export(self) -> None:
        self.notify("Exporting inventories and checksums…")
        self.run_export()

    async def action_quit(self) -> None:
        """Answer at once, then leave: Textual's shutdown (closing every widget, stopping its input thread) takes
        0.2-0.8 s before the terminal is back, so the tabs line says what is happening in the next frame. The
        downloads are the service's: they go on, and the line printed after the app says how to reach them."""
        self.closing.set()
        self.service_watch.close()
        if self.downloading:
            at = f"--root {shlex.quote(str(self.settings.root))}"
            self.farewell = (f"the downloads go on in this root's download service: `musicgen-tui {at} status "
                             f"--follow` watches them, `musicgen-tui {at} stop` ends them (partial files are kept)")
        self.query_one("#tabs", Static).update(Text(f"Quitting: {self.farewell or 'closing'}…"))
        self.call_after_refresh(self.exit, 0)

    def on_unmount(self) -> None:
        """However the app ends: its workers stop, the watch of the service lets go (the service goes on)."""
        self.closing.set()
        self.service_watch.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures land: a line on screen, the details in the log file."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        assert error is not None
        message = describe(error, token=self.settings.token)
        log.error("%s failed: %s", event.worker.group, message, exc_info=error)
        self.notify(f"{event.worker.group}: {message} (details in {LOG_NAME})", severity="error", timeout=10)
        if event.worker.group == "submit":
            self.tracker.handover_failed()
        if event.worker.group == "service":
            self.watching = False
        if event.worker.group in ("submit", "service") and not self.downloading:
            self._download_done(f"stopped: {message}")

    # --- messages from workers ----------------------------------------------------------------
    def on_repo_planned(self, message: m.RepoPlanned) -> None:
        self.select_pane.show_plan(message.plan)
        self.select_pane.update_summary()

    def on_local_scanned(self, message: m.LocalScanned) -> None:
        if not self.query(SelectPane):  # a scan that ends as the app closes: its panes are gone
            return
        self.select_pane.show_local(message.repos)
        self.inventory_pane.show(message.repos, message.ready)
        self.query_one("#status-bar", Static).update(self._status_text(message.against_lock))

    def on_plan_progress(self, message: m.PlanProgress) -> None:
        if self.downloading and not self.downloads_pane.rows:
            self.downloads_pane.show_planning(message.steps)

    def on_verify_queued(self, message: m.VerifyQueued) -> None:
        self.verify_pane.queued(message.files)

    def on_verify_progress(self, message: m.VerifyProgress) -> None:
        self.verify_pane.apply(message.checks)

    def on_verify_finished(self, message: m.VerifyFinished) -> None:
        result, report = message.result, message.report
        where = "not written (the root cannot be written)" if report is None else \
            report.relative_to(self.settings.root).as_posix()
        self.verify_pane.finish(result, where, self.unavailable)
        self.select_pane.show_verified(result)

    def on_controlled(self, message: m.Controlled) -> None:
        c = message.controls
        self.tracker.controls = c
        self.show_controls(c)
        paused = "everything paused" if c.paused_all else f"{len(c.paused)} repo(s) paused" if c.paused else \
            "nothing paused"
        self.notify(f"{'cap ' + human(c.max_rate) + '/s' if c.max_rate else 'no bandwidth cap'} · {paused}",
                    title="Download service")

    def on_exported(self, message: m.Exported) -> None:
        names = ", ".join(p.relative_to(self.settings.root).as_posix() for p in message.paths)
        if message.no_checksums_over is not None:
            names += (f"; no checksum file: no file is over {compact(message.no_checksums_over)} "
                      "(MUSICGEN_CHECKSUM_MIN)")
        in_flight = self.downloads_pane.repos_in_flight() if self.downloading else []
        still = f"; still downloading: {', '.join(in_flight)} (as on disk now)" if in_flight else ""
        self.notify(f"Wrote {names}{still}", title="Exported", timeout=8)
        self.inventory_pane.note = f"exported: {names}{still}"


def make_app(settings: Settings, **kwargs: object) -> MusicgenApp:
    """The one app factory, used by the CLI and the tests."""
    return MusicgenApp(settings, **kwargs)  # type: ignore[arg-type]
