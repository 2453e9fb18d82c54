"""The app's thread workers: every slow call is here. Each is handed what it needs (repos, profiles, a cancel
event), reads nothing else of the app, and only posts messages back."""

from __future__ import annotations

import threading

from textual import work
from textual.app import App

from core.catalog import Catalog
from core.hub.download import Downloader, FileEvent
from core.hub.planner import CacheUse, make_plan
from core.local import checksums, inventory
from core.local.lock import LockHeld, root_lock
from core.local.verify import FileCheck, verify, write_report
from core.plan import Plan
from core.progress import Coalescer
from core.repos import RepoRef
from core.settings import Settings

from .messages import (
    DownloadFinished,
    DownloadPlanned,
    DownloadProgress,
    Exported,
    LocalScanned,
    PlanProgress,
    RepoPlanned,
    VerifyFinished,
    VerifyProgress,
    VerifyQueued,
)


class WorkerApp(App[int]):
    """The workers, on the app as Textual wants them; ``MusicgenApp`` is the face."""

    settings: Settings
    catalog: Catalog
    closing: threading.Event  # set on quit: every worker stops at its next step

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_local(self) -> None:
        self.post_message(LocalScanned(inventory.scan(self.settings.root)))

    @work(thread=True, exclusive=True, group="catalog-plan", exit_on_error=False)
    def plan_catalog(self, profiles: dict[RepoRef, str], refresh: bool = False) -> None:
        """Size every repo of the Select pane, with the profile each row has: from the listing cache where it
        has the repo (reopening the app spends no API call), or, to ``refresh``, from the Hub."""
        self._plan_sizes(profiles, "write" if refresh else "read")

    @work(thread=True, group="repo-plan", exit_on_error=False)
    def plan_repos(self, profiles: dict[RepoRef, str]) -> None:
        """Size some repos again (a new profile, a repo added, a download over)."""
        self._plan_sizes(profiles, "read")

    def _plan_sizes(self, profiles: dict[RepoRef, str], cache: CacheUse) -> None:
        make_plan(self.settings, list(profiles), profiles=profiles, catalog=self.catalog, dependencies=False,
                  on_repo=lambda rp: self.post_message(RepoPlanned(rp)), cancel=self.closing, cache=cache)

    @work(thread=True, exclusive=True, group="download-plan", exit_on_error=False)
    def plan_download(self, refs: list[RepoRef], profiles: dict[RepoRef, str], cancel: threading.Event) -> None:
        relay: Coalescer[tuple[RepoRef, str]] = Coalescer(lambda batch: self.post_message(PlanProgress(batch)),
                                                          key=lambda step: step[0], interval=0.2)
        try:
            plan = make_plan(self.settings, refs, profiles=profiles, catalog=self.catalog, cancel=cancel,
                             cache="write", on_progress=lambda ref, text: relay.push((ref, text)))
        finally:
            relay.flush()
        self.post_message(DownloadPlanned(plan))

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def run_download(self, plan: Plan, cancel: threading.Event) -> None:
        relay: Coalescer[FileEvent] = Coalescer(lambda batch: self.post_message(DownloadProgress(batch)),
                                                key=lambda e: (e.repo_type, e.repo_id, e.path))
        try:
            with root_lock(self.settings.root):
                result = Downloader(self.settings, relay.push, cancel=cancel).run(plan)
        except LockHeld as e:
            from core.service.client import held_by

            self.post_message(DownloadFinished(None, held_by(self.settings.root, e)))
            return
        finally:
            relay.flush()
        self.post_message(DownloadFinished(result))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def run_verify(self, refs: list[RepoRef] | None) -> None:
        relay: Coalescer[FileCheck] = Coalescer(lambda batch: self.post_message(VerifyProgress(batch)),
                                                key=lambda c: (c.source, c.repo_type, c.repo_id, c.path))
        result = verify(self.settings.root, refs, on_check=relay.push, cancel=self.closing,
                        on_queued=lambda files: self.post_message(VerifyQueued(files)))
        relay.flush()
        if self.closing.is_set():
            return  # stopped half-way: a report of part of the files would pass for the whole
        self.post_message(VerifyFinished(result, write_report(self.settings.root, result)))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def run_export(self) -> None:
        repos = inventory.scan(self.settings.root)
        paths = list(inventory.write(self.settings.root, repos).values())
        paths += [c.path for c in checksums.write_checksums(self.settings.root, repos=repos)]
        self.post_message(Exported(paths))
        self.post_message(LocalScanned(repos))
