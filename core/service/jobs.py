"""A job of the root's service: what a client asked for, and running it: the plan, the disk check, the
download. The service runs one job at a time on its worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import CatalogError, load_catalog
from ..hub.download import Downloader
from ..hub.planner import Choice, make_plan
from ..hub.steering import Steering
from ..plan import plan_data
from ..repos import RepoRef
from ..results import FileEvent, RepoResult, RunResult
from ..settings import Settings
from ..sizes import human
from ..states import FileState
from ..workspace.lockfile import LockError, read_lock
from ..workspace.restore import plan_lock
from .events import JobResult
from .requests import Submit


@dataclass
class Job:
    id: int
    request: Submit
    cancel: threading.Event = field(default_factory=threading.Event)
    drops: list[tuple[str, str, str | None]] = field(default_factory=list)  # repos and files cancelled alone
    downloader: Downloader | None = None  # once planned


def run_job(job: Job, settings: Settings, lock: threading.Lock, steering: Steering, *,
            on_event: Callable[[FileEvent], None], on_planning: Callable[[str, str, str], None],
            on_planned: Callable[[], None]) -> JobResult:
    """Plan and download one job; how it ended, with its plan. ``on_planning`` hears each planning step,
    ``on_planned`` the plan's end; ``lock`` is the service's: a cancel of one repo or file (``job.drops``) reaches
    the downloader under it; ``steering`` is the service's cap, pauses and order."""
    req = job.request
    refs = list(req.repos)
    choice = Choice(req.profile, req.fp32, req.include, req.exclude, req.revision)
    profiles = dict(req.profiles)
    try:
        catalog = load_catalog(settings.root)
    except CatalogError:
        catalog = None

    def say(ref: RepoRef, text: str) -> None:
        on_planning(ref.repo_type, ref.repo_id, text)

    if req.lock is not None:  # restore a lock's exact set
        try:
            locked = read_lock(Path(req.lock))
        except LockError as e:
            for ref in refs:
                on_event(_whole_repo(ref, str(e)))
            on_planned()
            return JobResult(RunResult([RepoResult(r.repo_id, r.repo_type, error=str(e)) for r in refs]), None)
        plan = plan_lock(settings, locked, catalog=catalog, cancel=job.cancel, on_progress=say)
    else:
        plan = make_plan(settings, refs, choice, profiles=profiles, catalog=catalog, dependencies=req.dependencies,
                         cancel=job.cancel, cache=req.cache, on_progress=say)
    on_planned()
    planned = plan_data(plan)  # with the result: ``download --run --json`` through the service prints it
    for rp in plan.repos:
        if not rp.ok:
            on_event(_whole_repo(rp.ref, rp.message or rp.status.label))
    if not plan.space_ok and not req.force:
        msg = (f"not enough free space: need {human(plan.bytes_needed)}, free {human(plan.free_bytes)}; "
               "free some space, or submit again with force")
        for rp in plan.repos:
            if rp.ok:
                on_event(_whole_repo(rp.ref, msg))
        failed = [RepoResult(rp.ref.repo_id, rp.ref.repo_type, error=rp.message or msg) for rp in plan.repos]
        return JobResult(RunResult(failed), planned,
                         {"root": str(plan.root), "needed": plan.bytes_needed, "to_fetch": plan.bytes_to_fetch,
                          "margin": plan.min_free, "free": plan.free_bytes})
    downloader = Downloader(settings, on_event, max_workers=req.max_workers, cancel=job.cancel,
                            connections=req.connections, steering=steering, drop_archives=req.drop_archives)
    with lock:
        job.downloader = downloader
        for drop in job.drops:
            downloader.drop(*drop)
    return JobResult(downloader.run(plan), planned)


def _whole_repo(ref: RepoRef, message: str) -> FileEvent:
    """A repo that failed as a whole, as one failed file with no path."""
    return FileEvent(ref.repo_id, ref.repo_type, "", FileState.FAILED, 0, 0, message=message)
