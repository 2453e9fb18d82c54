"""``musicgen-tui download``: print the plan, or with ``--run`` fetch it (progress on stderr, results after)."""

from __future__ import annotations

import argparse
import signal
from typing import TYPE_CHECKING

from core.profiles import PROFILES

from ..common import (
    EXIT_CANNOT_RUN,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_repo_ids,
    catalog_for,
    refs_from,
    settings_for,
)
from ..output import Output
from .download_views import DetachedView, PlanData, PlanView, RunView

if TYPE_CHECKING:
    from core.plan import Plan
    from core.repos import RepoRef
    from core.service.client import Client
    from core.service.requests import Submit
    from core.settings import Settings
    from core.workspace.lockfile import LockedRepo

HELP = "plan (default) or run (--run) a download"
EXITS = ("exit status: 0 every repo planned (and, with --run, every file fetched and verified); 1 problems found "
         "(a repo not found or refused, a file that failed or was cancelled); 2 could not run (bad arguments or "
         "settings, the root held by another run, not enough disk space, the service unreachable); "
         "130 interrupted (partial files are kept)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", action="store_true", help="every model of the catalog")
    p.add_argument("--datasets", action="store_true", help="every dataset of the catalog")
    add_repo_ids(p, " (any Hub id)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching GLOB")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching GLOB")
    p.add_argument("--profile", default="full", metavar="PROFILE",
                   help="audiocraft: state_dict.bin + compression_state_dict.bin; transformers: configs, tokenizer "
                        "and one weight format; full: everything (default). An off-Hub source's own profiles too "
                        "(nsynth test|valid|all, maestro midi|all, fma small|medium|large|all, musicnet midi|all, "
                        "freesound meta|test|all, demucs htdemucs|htdemucs_ft|htdemucs_6s|all); full takes its default")
    p.add_argument("--fp32", action="store_true", help="with --profile transformers, also take the fp32 copies")
    p.add_argument("--no-deps", action="store_true", help="do not add the repos the selection depends on")
    p.add_argument("--revision", metavar="REV", help="a branch, tag or commit of the named repos (default main)")
    p.add_argument("--lock", metavar="FILE",
                   help="restore a lock's exact set (musicgen-tui lock): every repo at its locked commit, every file "
                        "checked against the lock's hash; a revision no longer served fails its repo, never a "
                        "substitute. Takes no repo, profile, pattern or revision")
    p.add_argument("--max-workers", type=int, default=8, metavar="N", help="files fetched at once (default 8)")
    p.add_argument("--connections", type=int, metavar="N",
                   help="ranged connections for each file from MUSICGEN_SEGMENT_MIN (64M) on (default "
                        "MUSICGEN_CONNECTIONS, 8; 1: one stream per file); a run opens at most --max-workers + N - 1")
    p.add_argument("--max-rate", metavar="RATE",
                   help="bytes a second for all connections together, like 20M or 500K; 0: no cap (default "
                        "MUSICGEN_MAX_RATE). Handed to the root's service, it is its cap from then on")
    p.add_argument("--drop-archives", action="store_true",
                   help="remove an off-Hub archive once its tree is extracted and whole (its manifest, checked by "
                        "verify, stands for it; the next download neither fetches nor extracts it again)")
    p.add_argument("--force", action="store_true", help="start even when free disk looks too small")
    p.add_argument("--run", action="store_true", help="download; without it, only print the plan")
    p.add_argument("--detach", action="store_true",
                   help="with --run: hand the download to this root's service and return at once "
                        "(watch with status --follow, end with stop)")
    p.add_argument("--json", action="store_true", help="print the plan and results as JSON on stdout")
    p.add_argument("--progress-every", type=float, default=5.0, metavar="SECONDS",
                   help="with --run, when stderr is no terminal: seconds between the totals lines (default 5)")


def run(args: argparse.Namespace, out: Output) -> int:
    if args.max_workers < 1:
        raise UsageError("--max-workers must be at least 1")
    if args.connections is not None and args.connections < 1:
        raise UsageError("--connections must be at least 1")
    if not args.progress_every > 0:
        raise UsageError("--progress-every must be more than 0 seconds")
    settings = settings_for(args)
    _check_profile(args.profile, settings)
    if args.max_rate is not None:
        from dataclasses import replace

        from core.sizes import parse_size

        try:
            settings = replace(settings, max_rate=parse_size(args.max_rate))
        except ValueError as e:
            raise UsageError(f"--max-rate: {e}") from None
    catalog = catalog_for(settings)
    locked = _locked(args) if args.lock else None
    refs = [r.ref for r in locked] if locked is not None else refs_from(args, catalog, groups=True)
    if not refs:
        raise UsageError("nothing selected: use --models, --datasets, --model ID or --dataset ID")
    if args.detach:
        if not args.run:
            raise UsageError("--detach needs --run")
        return _detach(args, settings, refs, out)
    if args.run:
        from core.service.client import ServiceError, connect

        try:
            client = connect(settings.root)
        except ServiceError as e:
            out.error(str(e))
            return EXIT_CANNOT_RUN
        if client is not None:  # the root's service holds the root: it downloads, this terminal watches
            with client:
                return _through_service(args, settings, refs, client, out)
    from core.hub.planner import Choice, make_plan

    from ..progress import PlanningPrinter

    choice = Choice(args.profile, args.fp32, tuple(args.include), tuple(args.exclude), args.revision)
    planning = PlanningPrinter(quiet=out.as_json)
    try:
        if locked is not None:
            from core.workspace.restore import plan_lock

            plan = plan_lock(settings, locked, catalog=catalog, on_progress=planning.on_progress)
        else:
            plan = make_plan(settings, refs, choice, catalog=catalog, dependencies=not args.no_deps,
                             on_progress=planning.on_progress)
    finally:
        planning.finish()
    out.show(PlanView(plan))
    if args.run:
        return _run(args, settings, plan, out)
    out.say("dry run: nothing changed (add --run to download)")
    return EXIT_FAILED if any(not r.ok for r in plan.repos) else EXIT_OK


def _locked(args: argparse.Namespace) -> list[LockedRepo]:
    """The lock's repos; a selection beside ``--lock``, or a file that is no lock, cannot run."""
    from pathlib import Path

    from core.workspace.lockfile import LockError, read_lock

    given = [flag for flag, on in (("--models", args.models), ("--datasets", args.datasets),
                                   ("--model", args.model), ("--dataset", args.dataset),
                                   ("--include", args.include), ("--exclude", args.exclude),
                                   ("--revision", args.revision), ("--profile", args.profile != "full"),
                                   ("--fp32", args.fp32), ("--no-deps", args.no_deps)) if on]
    if given:
        raise UsageError(f"--lock restores the lock's exact set: it takes no {', '.join(given)}")
    try:
        locked = read_lock(Path(args.lock))
    except LockError as e:
        raise UsageError(str(e)) from None
    if not locked:
        raise UsageError(f"{args.lock}: the lock holds no repo")
    return locked


def _check_profile(profile: str, settings: Settings) -> None:
    """A Hub profile, or one of an off-Hub source's (the built-in ones and ``MUSICGEN_CATALOG``'s)."""
    if profile in PROFILES:
        return
    from core.sources import sources_or_builtin

    sources = sources_or_builtin(settings.catalog_file)
    names = sorted({n for s in sources.values() for n in s.profiles})
    if profile not in names:
        raise UsageError(f"--profile {profile!r} is none of {', '.join(PROFILES)} (Hub repos) or "
                         f"{', '.join(names)} (off-Hub sources)")


def _run(args: argparse.Namespace, settings: Settings, plan: Plan, out: Output) -> int:
    from core.hub.download import Downloader
    from core.local.lock import LockHeld, root_lock
    from core.sizes import human

    from ..progress import ProgressPrinter

    if not plan.space_ok and not args.force:
        out.error(f"not enough free space at {plan.root}: need {human(plan.bytes_needed)} "
                  f"({human(plan.bytes_to_fetch)} to fetch + {human(plan.min_free)} margin, MUSICGEN_MIN_FREE), "
                  f"free {human(plan.free_bytes)}; free some space or use --force")
        return EXIT_CANNOT_RUN
    printer = ProgressPrinter(quiet=out.as_json, interval=args.progress_every)
    # A closed terminal (a dropped SSH link) sends a hang-up: the download runs on without a terminal, its
    # progress unprinted, and ends as it would have (``download --detach`` hands it to the service instead).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with root_lock(settings.root):
            result = Downloader(settings, printer.on_event, max_workers=args.max_workers,
                                connections=args.connections, drop_archives=args.drop_archives).run(plan)
    except LockHeld as e:
        from core.service.client import held_by

        out.error(held_by(settings.root, e))
        return EXIT_CANNOT_RUN
    finally:
        printer.finish()  # the lines not yet written, also when interrupted
    out.show(RunView(result))
    return EXIT_OK if result.ok else EXIT_FAILED


def _detach(args: argparse.Namespace, settings: Settings, refs: list[RepoRef], out: Output) -> int:
    """Hand the selection to the root's service (started when none runs): it plans with its own settings and
    downloads without this terminal."""
    import sys

    from core.service.client import ServiceError, ensure, other_settings
    from core.service.protocol import LOG_NAME

    try:
        with ensure(settings.root, settings) as client:
            client.submit(_submission(args, refs, settings), settings)
            status = client.status()
            pid = status.pid
            if note := other_settings(status, settings):
                print(f"musicgen-tui: {note}", file=sys.stderr)
    except ServiceError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    out.show(DetachedView(refs, pid, settings.root / LOG_NAME))
    return EXIT_OK


def _submission(args: argparse.Namespace, refs: list[RepoRef], settings: Settings) -> Submit:
    from pathlib import Path

    from core.service.requests import Submit

    return Submit(tuple(refs), profile=args.profile, fp32=args.fp32, include=tuple(args.include),
                  exclude=tuple(args.exclude), revision=args.revision, dependencies=not args.no_deps,
                  max_workers=args.max_workers, force=args.force, connections=args.connections,
                  max_rate=settings.max_rate if args.max_rate is not None else None, drop_archives=args.drop_archives,
                  lock=str(Path(args.lock).resolve()) if args.lock else None)


def _through_service(args: argparse.Namespace, settings: Settings, refs: list[RepoRef], client: Client,
                     out: Output) -> int:
    """``download --run`` while the root's service runs: the service plans and downloads (one writer per root),
    this terminal shows the progress of its own job as a foreground run does, Ctrl-C cancels that job only, and
    the exit code is the same. A hang-up ends this client only: the service downloads on."""
    import contextlib
    import sys

    from core.results import FileEvent, RunResult
    from core.service.client import ServiceError, connect, other_settings
    from core.service.events import PlanningChanged, StatusReply
    from core.service.requests import Cancel
    from core.service.tracker import JobTracker
    from core.states import FileState

    from ..progress import ProgressPrinter

    printer = ProgressPrinter(quiet=out.as_json, interval=args.progress_every)
    tracker: JobTracker[None] = JobTracker(only_mine=True, keep_files=False)
    said: dict[str, str] = {}
    ended = None
    job = None
    try:
        watcher = connect(settings.root)
        if watcher is None:
            raise ServiceError("the download service ended before the download was handed to it")
        with watcher:
            events = watcher.subscribe()
            first = next(events)  # subscribed before the job exists: its every event, its end included, comes after
            if isinstance(first, StatusReply) and (note := other_settings(first, settings)):
                print(f"musicgen-tui: {note}", file=sys.stderr)
            tracker.handing_over()
            job = client.submit(_submission(args, refs, settings), settings).job
            tracker.handed(job)
            if not out.as_json:
                print(f"the download service of this root downloads it (job {job}); Ctrl-C cancels this job only",
                      file=sys.stderr)
            for event in events:
                if isinstance(event, StatusReply):
                    continue
                update = tracker.apply(event)
                for before, f in update.files:
                    if not f.path:
                        continue
                    if before is None and f.state is not FileState.QUEUED:  # every file is counted once, queued first
                        printer.on_event(FileEvent(f.repo_id, f.repo_type, f.path, FileState.QUEUED, 0, f.total))
                    printer.on_event(f)
                if isinstance(event, PlanningChanged) and not out.as_json:
                    for ref, text in event.planning:
                        if said.get(ref.repo_id) != text:
                            said[ref.repo_id] = text
                            print(f"planning {ref.repo_id}: {text}", file=sys.stderr)
                ended = next((e.result for e in update.ended if e.mine), None)
                if ended is not None or update.stopped:
                    break
    except KeyboardInterrupt:
        if job is not None:
            with contextlib.suppress(ServiceError, OSError):
                client.request(Cancel(job=job))
        raise
    except ServiceError as e:
        out.error(str(e))
        return EXIT_FAILED
    finally:
        printer.finish()
    result = ended.run if ended is not None else RunResult.from_data(None)
    if ended is not None and ended.plan is not None:
        out.show(PlanData(ended.plan))  # JSON only: the planning was printed as it went
    out.show(RunView(result))
    return EXIT_OK if result.ok else EXIT_FAILED
