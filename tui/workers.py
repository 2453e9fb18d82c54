"""The app's thread workers: every slow call is here. Each is handed what it needs (repos, profiles, a cancel
event), reads nothing else of the app, and only posts messages back."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.app import App

from core.catalog import Catalog
from core.hub.planner import CacheUse, make_plan
from core.local import inventory
from core.local.inventory import LocalRepo
from core.local.lock import LockHeld
from core.local.verify import FileCheck
from core.progress import Coalescer
from core.repos import RepoRef
from core.service.chores import do_export, do_verify, locally
from core.service.client import ServiceError, connect, ensure
from core.service.events import (
    ChecksMade,
    Done,
    ExportDone,
    FilesChanged,
    FilesQueued,
    PlanningChanged,
    StatusReply,
    Verified,
)
from core.service.requests import Cancel, Export, Limit, Pause, Priority, Resume, Submit, Verify
from core.service.watch import Detached, Watch, WatchFailed
from core.settings import Settings
from core.states import CheckStatus

from .messages import (
    Controlled,
    DownloadProgress,
    Exported,
    LocalScanned,
    PlanProgress,
    RepoPlanned,
    ServiceAttached,
    ServiceDetached,
    ServiceEvent,
    ServiceFailed,
    SubmitFailed,
    Submitted,
    VerifyFinished,
    VerifyProgress,
    VerifyQueued,
)


class WorkerApp(App[int]):
    """The workers, on the app as Textual wants them; ``MusicgenApp`` is the face."""

    settings: Settings
    catalog: Catalog
    closing: threading.Event  # set on quit: every worker stops at its next step

    def scanned(self, repos: list[LocalRepo]) -> LocalScanned:
        """A scan's message (``ReadyApp`` adds what each model is ready for)."""
        return LocalScanned(repos)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_local(self) -> None:
        self.post_message(self.scanned(inventory.scan(self.settings.root)))

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

    @work(thread=True, exclusive=True, group="service", exit_on_error=False)
    def watch_service(self, watch: Watch) -> None:
        """Follow the root's download service for as long as the app runs (until ``watch.close``): its files, its
        planning, its controls, its jobs' ends, across its restarts."""
        for event in watch.events():
            if isinstance(event, StatusReply):
                self.post_message(ServiceAttached(event))
            elif isinstance(event, FilesChanged):
                self.post_message(DownloadProgress(event.files))
            elif isinstance(event, PlanningChanged):
                self.post_message(PlanProgress(list(event.planning)))
            elif isinstance(event, Detached):
                self.post_message(ServiceDetached())
            elif isinstance(event, WatchFailed):
                self.post_message(ServiceFailed(event.error))
            else:
                self.post_message(ServiceEvent(event))

    @work(thread=True, group="submit", exit_on_error=False)
    def submit_download(self, request: Submit, cancel: threading.Event, watch: Watch) -> None:
        """Hand a download to the root's service, started when none runs (with the app's settings); a cancel
        pressed meanwhile cancels the job as soon as it has a number."""
        try:
            with ensure(self.settings.root, self.settings) as client:
                job = client.submit(request, self.settings).job
                if cancel.is_set():
                    client.request(Cancel(job=job))
        except (ServiceError, OSError) as e:
            self.post_message(SubmitFailed(str(e) if isinstance(e, ServiceError) else f"download service: {e}"))
            return
        finally:
            watch.wake()
        self.post_message(Submitted(job, request))

    @work(thread=True, group="control", exit_on_error=False)
    def ask_service(self, request: Cancel | Limit | Pause | Resume | Priority) -> None:
        """A cancel or a control for the root's service (what the Downloads pane shows)."""
        try:
            client = connect(self.settings.root)
            if client is None:
                self.post_message(ServiceFailed("no download service runs on this root: nothing to steer"))
                return
            with client:
                reply = client.request(request)
        except (ServiceError, OSError) as e:
            self.post_message(ServiceFailed(f"{type(request).__name__.lower()}: {e}"))
            return
        if isinstance(reply, Done) and reply.controls is not None:
            self.post_message(Controlled(reply.controls))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def run_verify(self, refs: list[RepoRef] | None, unavailable: dict[tuple[str, str], str]) -> None:
        """Verify, through the root's service (its one writer, started when none runs); a repo never downloaded
        that this endpoint does not have (``unavailable``: its status) is said to be so, not only "not
        downloaded": a download cannot bring it."""
        def said(c: FileCheck) -> FileCheck:
            why = unavailable.get((c.repo_type, c.repo_id))
            if why is not None and c.status is CheckStatus.MISSING and c.detail == "not downloaded":
                return replace(c, detail=f"not downloaded, and a download cannot bring it: {why}")
            return c

        request = Verify(tuple(refs or ()))
        try:
            client = ensure(self.settings.root, self.settings)
        except ServiceError:  # no service can run here (a read-only root): verified as it is, by the app
            self._verify_here(request, said)
            return
        with client, _said_by_service(self):
            for message in client.chore(request):
                if self.closing.is_set():
                    return  # the client goes: the service stops the verify at its next file, and writes no report
                if isinstance(message, FilesQueued):
                    self.post_message(VerifyQueued(message.files))
                elif isinstance(message, ChecksMade):
                    self.post_message(VerifyProgress([said(c) for c in message.checks]))
                elif isinstance(message, Verified):
                    self.post_message(VerifyFinished(message.result, _path(message.report)))

    def _verify_here(self, request: Verify, said: Callable[[FileCheck], FileCheck]) -> None:
        relay: Coalescer[FileCheck] = Coalescer(lambda batch: self.post_message(VerifyProgress(batch)),
                                                key=lambda c: (c.source, c.repo_type, c.repo_id, c.path))
        try:
            with locally(self.settings.root):
                done = do_verify(self.settings.root, request, on_check=lambda c: relay.push(said(c)),
                                 on_queued=lambda files: self.post_message(VerifyQueued(files)), cancel=self.closing)
        except LockHeld as e:
            self.post_message(ServiceFailed(str(e)))
            return
        relay.flush()
        if not self.closing.is_set():
            self.post_message(VerifyFinished(done.result, _path(done.report)))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def run_export(self) -> None:
        """The inventories and checksum files, written by the root's service (its one writer), or by the app under
        the root's lock when no service can run here."""
        request = Export(checksum_min=self.settings.checksum_min)
        done: ExportDone | None = None
        try:
            client = ensure(self.settings.root, self.settings)
        except ServiceError:  # no service can run here (a read-only root): the app writes, holding the lock
            client = None
        if client is not None:
            with client, _said_by_service(self):
                for message in client.chore(request):
                    done = message if isinstance(message, ExportDone) else done
        else:
            try:
                with locally(self.settings.root):
                    done = do_export(self.settings.root, request, self.settings.checksum_min)
            except LockHeld as e:
                self.post_message(ServiceFailed(str(e)))
                return
        if done is not None:
            if done.unwritable:
                self.post_message(ServiceFailed(f"{self.settings.root} cannot be written ({done.unwritable}): "
                                                "nothing exported"))
            paths = [Path(p) for p in done.inventories.values()] + [Path(c["path"]) for c in done.checksums]
            self.post_message(Exported(paths, self.settings.checksum_min if not done.checksums else None))
        self.post_message(self.scanned(inventory.scan(self.settings.root)))  # reading: no writer needed


@contextlib.contextmanager
def _said_by_service(app: App[int]) -> Iterator[None]:
    """A chore the service refused or could not finish: its one line on screen (and in the app's log)."""
    try:
        yield
    except (ServiceError, OSError) as e:
        app.post_message(ServiceFailed(str(e) if isinstance(e, ServiceError) else f"download service: {e}"))


def _path(report: str | None) -> Path | None:
    return None if report is None else Path(report)
