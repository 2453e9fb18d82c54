"""The app's thread workers: every slow call is here. Each is handed what it needs (repos, profiles, a cancel
event), reads nothing else of the app, and only posts messages back."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from textual import work
from textual.app import App

from core.catalog import Catalog
from core.hub.planner import CacheUse, make_plan
from core.local import checksums, inventory
from core.local.verify import FileCheck, verify, write_report
from core.progress import Coalescer
from core.repos import RepoRef
from core.service.client import ServiceError, Watch, connect, ensure, file_event, submit
from core.service.requests import Submit
from core.settings import Settings
from core.states import CheckStatus

from .messages import (
    DownloadProgress,
    Exported,
    JobsEnded,
    LocalScanned,
    PlanProgress,
    RepoPlanned,
    ServiceAttached,
    ServiceDetached,
    ServiceFailed,
    ServiceIdle,
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

    @work(thread=True, exclusive=True, group="service", exit_on_error=False)
    def watch_service(self, watch: Watch) -> None:
        """Follow the root's download service for as long as the app runs (until ``watch.close``): its files, its
        planning, its jobs' ends, across its restarts."""
        for event in watch.events():
            kind = event.get("event")
            if kind == "attached":
                self.post_message(ServiceAttached(
                    [file_event(f) for f in event.get("files", [])], _planning(event), bool(event.get("busy")),
                    list(event.get("jobs", [])), {int(j): r for j, r in event.get("results", {}).items()},
                    str(event.get("endpoint", ""))))
            elif kind == "files":
                self.post_message(DownloadProgress([file_event(f) for f in event["files"]]))
            elif kind == "planning":
                self.post_message(PlanProgress(_planning(event)))
            elif kind == "ended":
                self.post_message(JobsEnded({int(j): r for j, r in event["results"].items()}))
            elif kind == "idle":
                self.post_message(ServiceIdle())
            elif kind == "detached":
                self.post_message(ServiceDetached())
            elif kind == "error":
                self.post_message(ServiceFailed(str(event["error"])))

    @work(thread=True, group="submit", exit_on_error=False)
    def submit_download(self, request: Submit, cancel: threading.Event, watch: Watch) -> None:
        """Hand a download to the root's service, started when none runs (with the app's settings); a cancel
        pressed meanwhile cancels the job as soon as it has a number."""
        try:
            with ensure(self.settings.root, self.settings) as client:
                job = int(submit(client, request, self.settings)["job"])
                if cancel.is_set():
                    client.request({"op": "cancel", "job": job})
        except (ServiceError, OSError, ValueError) as e:
            self.post_message(ServiceFailed(str(e) if isinstance(e, ServiceError) else f"download service: {e}"))
            return
        finally:
            watch.wake()
        self.post_message(Submitted(job, request))

    @work(thread=True, group="cancel", exit_on_error=False)
    def cancel_downloads(self) -> None:
        """Cancel everything the service has queued or running (what the Downloads pane shows)."""
        try:
            client = connect(self.settings.root)
            if client is not None:
                with client:
                    client.request({"op": "cancel"})
        except (ServiceError, OSError, ValueError) as e:
            self.post_message(ServiceFailed(f"cancel: {e}"))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def run_verify(self, refs: list[RepoRef] | None, unavailable: dict[tuple[str, str], str]) -> None:
        """Verify; a repo never downloaded that this endpoint does not have (``unavailable``: its status) is said
        to be so, not only "not downloaded": a download cannot bring it."""
        relay: Coalescer[FileCheck] = Coalescer(lambda batch: self.post_message(VerifyProgress(batch)),
                                                key=lambda c: (c.source, c.repo_type, c.repo_id, c.path))

        def on_check(c: FileCheck) -> None:
            why = unavailable.get((c.repo_type, c.repo_id))
            if why is not None and c.status is CheckStatus.MISSING and c.detail == "not downloaded":
                c = replace(c, detail=f"not downloaded, and a download cannot bring it: {why}")
            relay.push(c)

        result = verify(self.settings.root, refs, on_check=on_check, cancel=self.closing,
                        on_queued=lambda files: self.post_message(VerifyQueued(files)))
        relay.flush()
        if self.closing.is_set():
            return  # stopped half-way: a report of part of the files would pass for the whole
        self.post_message(VerifyFinished(result, write_report(self.settings.root, result)))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def run_export(self) -> None:
        repos = inventory.scan(self.settings.root)
        paths = list(inventory.write(self.settings.root, repos).values())
        sums = checksums.write_checksums(self.settings.root, self.settings.checksum_min, repos=repos)
        self.post_message(Exported(paths + [c.path for c in sums], self.settings.checksum_min if not sums else None))
        self.post_message(LocalScanned(repos))


def _planning(event: dict[str, Any]) -> list[tuple[RepoRef, str]]:
    """The service's planning lines, per repo (a job's failure outside any repo is in its result instead)."""
    return [(RepoRef(t, i), text) for t, i, text in event.get("planning", []) if t and i]
