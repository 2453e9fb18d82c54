"""The app's side of the root's download service: handing a download over, following the service across its
lives, and what a job's end means on screen (a repo's red row, the short-disk question, the closing note).
``MusicgenApp`` is the face; this part holds the jobs and reads the panes it updates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import ContentSwitcher, Static

from core.results import FileEvent, RunResult
from core.service.client import other_settings
from core.service.events import Controls, ControlsChanged, Idle
from core.service.requests import Submit
from core.service.tracker import Ended, JobTracker
from core.service.watch import Watch
from core.sizes import human

from . import messages as m
from .bindings import key_of
from .downloads_pane import DownloadsPane
from .inventory_pane import InventoryPane
from .logfile import log
from .plain_app import PlainApp
from .screens import ConfirmScreen
from .select_pane import Entry, SelectPane
from .verify_pane import VerifyPane


class ServiceFollower(PlainApp):
    """The jobs this app handed over and what the service says of them (set up by ``MusicgenApp.__init__``)."""

    background: bool
    disk_free: Callable[[Path], int]
    entries: dict[str, Entry]
    cancel_event: threading.Event  # the current download's; a new one for each download
    service_watch: Watch
    watching: bool  # the watch worker runs
    tracker: JobTracker[Submit]  # the service's jobs as this app knows them, its own with their request
    run_results: list[RunResult]  # the jobs ended since the last note

    @property
    def current_pane(self) -> str:
        return self.query_one(ContentSwitcher).current or "select"

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

    def _submit(self, request: Submit) -> None:
        """Hand a download to the root's service (it plans with the listing cache, checks the disk, downloads)."""
        self.cancel_event = threading.Event()
        self.tracker.handing_over()
        self._follow_service()
        self.submit_download(request, self.cancel_event, self.service_watch)

    def _follow_service(self) -> None:
        if not self.watching:
            self.watching = True
            self.watch_service(self.service_watch)

    def on_download_progress(self, message: m.DownloadProgress) -> None:
        self._show_files(message.events)

    def _show_files(self, events: list[FileEvent]) -> None:
        """Files to the Downloads pane; a repo that failed as a whole (a file with no path) is its red row."""
        whole = [e for e in events if not e.path]
        if whole:
            self.downloads_pane.add_repo_errors([(e.repo_id, e.repo_type, e.message or "failed") for e in whole])
            events = [e for e in events if e.path]
        if events:
            self.downloads_pane.apply(events)

    @property
    def downloading(self) -> bool:
        """A download of this app is being handed over or runs, or the service runs one (another client's)."""
        return self.tracker.pending

    def on_service_attached(self, message: m.ServiceAttached) -> None:
        status = message.status
        if note := other_settings(status, self.settings):
            self.notify(note[0].upper() + note[1:], severity="warning", timeout=15)
        update = self.tracker.attach(status)
        if status.files and (status.busy or not self.downloads_pane.rows):
            self._show_files(status.files)
        if status.busy and status.planning and not self.downloads_pane.rows:
            self.downloads_pane.show_planning(list(status.planning))
        self.show_controls(status.controls)
        self._jobs_ended([e for e in update.ended if e.mine])  # others' ends, before the app came, are not its news

    def on_service_event(self, message: m.ServiceEvent) -> None:
        update = self.tracker.apply(message.event)
        if isinstance(message.event, ControlsChanged):
            self.show_controls(message.event.controls)
        self._jobs_ended(update.ended)
        if isinstance(message.event, Idle):
            self._maybe_done()

    def on_submitted(self, message: m.Submitted) -> None:
        ended = self.tracker.handed(message.job, message.request)
        if ended is not None:  # it ended before the app heard its number
            self._jobs_ended([ended])

    def on_submit_failed(self, message: m.SubmitFailed) -> None:
        self.tracker.handover_failed()
        self.notify(message.error, severity="error", timeout=15)
        if not self.downloading:
            self._download_done(message.error)

    def _jobs_ended(self, ended: list[Ended[Submit]]) -> None:
        for e in ended:
            space = e.result.space
            if e.payload is not None and space and not self.closing.is_set():
                self._ask_space(e.payload, space)
                continue
            if not e.again:
                self.run_results.append(e.result.run)
            if e.mine:
                result = e.result.run
                self.downloads_pane.add_repo_errors([(r.repo_id, r.repo_type, r.error)
                                                     for r in result.repos if r.error])
                self.select_pane.show_downloaded(result)
                self.ring(result)
        self._maybe_done()

    def ring(self, result: RunResult) -> None:
        """The terminal's bell for a download of this app that finished while nobody watched: the terminal's window
        not focused (where it says so), or another pane shown. ``MUSICGEN_BELL=0`` turns it off."""
        if self.settings.bell and result.repos and not result.cancelled and (
                not self.app_focus or self.current_pane != "downloads"):
            self.bell()

    def _ask_space(self, request: Submit, space: dict[str, Any]) -> None:
        """The service found the disk short: ask, and on a yes hand the download over again, forced, with the
        listing it has just made."""
        self.tracker.handing_over()  # still this app's download until answered
        question = (f"Not enough free space at {space['root']}: this needs {human(space['needed'])} "
                    f"({human(space['to_fetch'])} to fetch + {human(space['margin'])} margin) and "
                    f"{human(space['free'])} is free.\nDownload anyway?")

        def answered(yes: bool | None) -> None:
            self.tracker.handover_failed()
            self.downloads_pane.reset()
            if yes:
                self._submit(replace(request, force=True, cache="read"))
            else:
                self._download_done("not started: not enough free space")

        self.push_screen(ConfirmScreen(question), answered)

    def on_service_detached(self, _message: m.ServiceDetached) -> None:
        """The service ended: a job of this app it had not finished is over (stopped or killed; the partial
        files stay for the next download)."""
        self._jobs_ended(self.tracker.detach().ended)
        self.show_controls(None)

    def on_service_failed(self, message: m.ServiceFailed) -> None:
        log.error("%s", message.error)
        self.notify(message.error, severity="error", timeout=15)
        if not self.downloading:
            self._download_done(message.error)

    def _maybe_done(self) -> None:
        """Once nothing is handed over, queued or running: the note for the jobs that ended meanwhile."""
        if self.downloading or not self.run_results:
            return
        results = list(self.run_results)
        self.run_results.clear()
        fetched = human(sum(r.bytes_fetched for r in results))
        failed = sum(1 for result in results for r in result.repos if r.failed or r.error)
        if any(result.cancelled or any(r.cancelled for r in result.repos) for result in results):
            note = f"cancelled: {fetched} fetched, partial files kept ({key_of(self, 'download')} resumes)"
        elif failed:
            note = f"finished with failures: {failed} repo(s) failed (reasons in red above)"
        else:
            note = f"finished: {fetched} fetched, every file checked against the Hub's hash"
        self._download_done(note)

    def _download_done(self, note: str) -> None:
        self.downloads_pane.say(note)
        self.select_pane.update_summary(self.disk_free(self.settings.root))
        if self.background:
            self.scan_local()
            self.plan_repos({e.ref: e.profile for e in self.entries.values() if e.selected})

    def show_controls(self, controls: Controls | None) -> None:
        """The header: the token, the root, the Hub, and the service's cap and pauses while one runs."""
        s = self.settings
        text = f" token {s.token_state} · root {s.root} · hub {s.endpoint}"
        if controls is not None:
            text += f" · cap {human(controls.max_rate)}/s" if controls.max_rate else " · no cap"
            if controls.paused_all:
                text += " · PAUSED"
            elif controls.paused:
                text += f" · {len(controls.paused)} repo(s) paused"
        self.query_one("#status-bar", Static).update(Text(text))
