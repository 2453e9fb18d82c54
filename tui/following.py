"""The app's side of the root's download service: handing a download over, following the service across its
lives, and what a job's end means on screen (a repo's red row, the short-disk question, the closing note).
``MusicgenApp`` is the face; this part holds the jobs and reads the panes it updates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.hub.download import FileEvent, RunResult
from core.service.client import Watch, other_settings, run_result
from core.service.requests import Submit
from core.sizes import human

from . import messages as m
from .bindings import key_of
from .downloads_pane import DownloadsPane
from .inventory_pane import InventoryPane
from .plain_app import PlainApp
from .screens import ConfirmScreen
from .select_pane import Entry, SelectPane
from .verify_pane import VerifyPane

KEEP_ENDED = 100  # job results kept for a job whose number arrives after its end


class ServiceFollower(PlainApp):
    """The jobs this app handed over and what the service says of them (set up by ``MusicgenApp.__init__``)."""

    background: bool
    disk_free: Callable[[Path], int]
    entries: dict[str, Entry]
    cancel_event: threading.Event  # the current download's; a new one for each download
    service_watch: Watch
    watching: bool  # the watch worker runs
    submitting: int  # downloads being handed to the service, their job number not yet known
    jobs: dict[int, Submit]  # this app's jobs not yet ended, with their request
    busy: bool  # the service has a job queued or running (this app's or another client's)
    ended: dict[int, dict[str, Any] | None]  # the results of the latest jobs the service ended
    run_results: dict[int, RunResult]  # the jobs ended since the last note

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
        self.submitting += 1
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
        return self.submitting > 0 or bool(self.jobs) or self.busy

    def on_service_attached(self, message: m.ServiceAttached) -> None:
        if note := other_settings({"endpoint": message.endpoint}, self.settings):
            self.notify(note[0].upper() + note[1:], severity="warning", timeout=15)
        self.busy = message.busy
        if message.files and (message.busy or not self.downloads_pane.rows):
            self._show_files(message.files)
        if message.busy and message.planning and not self.downloads_pane.rows:
            self.downloads_pane.show_planning(message.planning)
        self.ended.update(message.results)
        self._jobs_ended({j: r for j, r in message.results.items() if j in self.jobs})

    def on_submitted(self, message: m.Submitted) -> None:
        self.submitting = max(0, self.submitting - 1)
        self.jobs[message.job] = message.request
        if message.job in self.ended:  # it ended before the app heard its number
            self._jobs_ended({message.job: self.ended[message.job]})

    def on_jobs_ended(self, message: m.JobsEnded) -> None:
        self.ended.update(message.results)
        while len(self.ended) > KEEP_ENDED:
            del self.ended[next(iter(self.ended))]
        self._jobs_ended(message.results)

    def _jobs_ended(self, results: dict[int, dict[str, Any] | None]) -> None:
        for job, data in results.items():
            request = self.jobs.pop(job, None)
            if request is not None and data is not None and data.get("space") and not self.closing.is_set():
                self._ask_space(request, data["space"])
                continue
            result = run_result(data)
            self.run_results[job] = result
            if request is not None:
                self.downloads_pane.add_repo_errors([(r.repo_id, r.repo_type, r.error)
                                                     for r in result.repos if r.error])
                self.select_pane.show_downloaded(result)
        self._maybe_done()

    def _ask_space(self, request: Submit, space: dict[str, Any]) -> None:
        """The service found the disk short: ask, and on a yes hand the download over again, forced, with the
        listing it has just made."""
        self.submitting += 1  # still this app's download until answered
        question = (f"Not enough free space at {space['root']}: this needs {human(space['needed'])} "
                    f"({human(space['to_fetch'])} to fetch + {human(space['margin'])} margin) and "
                    f"{human(space['free'])} is free.\nDownload anyway?")

        def answered(yes: bool | None) -> None:
            self.submitting -= 1
            self.downloads_pane.reset()
            if yes:
                self._submit(replace(request, force=True, cache="read"))
            else:
                self._download_done("not started: not enough free space")

        self.push_screen(ConfirmScreen(question), answered)

    def on_service_idle(self, _message: m.ServiceIdle) -> None:
        self.busy = False
        self._maybe_done()

    def on_service_detached(self, _message: m.ServiceDetached) -> None:
        """The service ended: a job of this app it had not finished is over (stopped or killed; the partial
        files stay for the next download)."""
        self.busy = False
        for job in list(self.jobs):
            self.jobs.pop(job)
            self.run_results[job] = run_result(None)
        self._maybe_done()

    def on_service_failed(self, message: m.ServiceFailed) -> None:
        self.notify(message.error, severity="error", timeout=15)
        if not self.downloading:
            self._download_done(message.error)

    def _maybe_done(self) -> None:
        """Once nothing is handed over, queued or running: the note for the jobs that ended meanwhile."""
        if self.downloading or not self.run_results:
            return
        results = list(self.run_results.values())
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

