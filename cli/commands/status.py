"""``musicgen-tui status``: the root's download service and every file it knows, once or, with ``--follow``,
live until nothing is left queued or running."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.states import FileState

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, settings_for
from ..output import Output

if TYPE_CHECKING:
    from core.results import FileEvent
    from core.service.client import Client
    from core.service.events import StatusReply

HELP = "show this root's download service and its files (--follow: until they finish)"
EXITS = ("exit status: 0 no file failed (or no service runs); 1 a file failed or was cancelled; 2 could not run "
         "(bad arguments or settings, the service unreachable)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--follow", action="store_true", help="print files as they finish, until the queue is empty "
                                                          "(exit 1 if any failed)")
    p.add_argument("--json", action="store_true", help="print the service and its files as JSON on stdout")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.service.client import ServiceError, connect

    settings = settings_for(args)
    try:
        client = connect(settings.root)
        if client is None:
            out.show(StatusView(None))
            return EXIT_OK
        with client:
            if not args.follow:
                now = client.status()
                out.show(StatusView(now, now.files))
                return EXIT_OK
            status, files = _follow(client, out)
    except ServiceError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    out.show(StatusView(status, files))
    return EXIT_FAILED if any(f.state in (FileState.FAILED, FileState.CANCELLED) for f in files) else EXIT_OK


def _follow(client: Client, out: Output) -> tuple[StatusReply | None, list[FileEvent]]:
    """Events until the service is idle (or ends); lines for files that end and for planning. Returns the first
    status and every file as the events left it."""
    from core.service.events import PlanningChanged, StatusReply
    from core.service.tracker import JobTracker
    from core.sizes import human

    tracker: JobTracker[None] = JobTracker()
    status = None
    for message in client.subscribe():
        if isinstance(message, StatusReply):
            status = message
            tracker.attach(message)
            continue
        update = tracker.apply(message)
        for before, f in update.files:
            if f.state is not before and f.state is FileState.DONE:
                out.say(f"done    {f.repo_id}/{f.path} ({human(f.total)})")
            elif f.state is not before and f.state is FileState.FAILED:
                out.say(f"FAILED  {_where(f)}: {f.message or ''}")
            elif f.state is not before and f.state is FileState.PAUSED:
                out.say(f"paused  {_where(f)}")
        if isinstance(message, PlanningChanged):
            for ref, text in message.planning:
                out.say(f"planning {ref.repo_id}: {text}")
        if not tracker.busy or update.stopped:
            break
    if status is not None:
        status = replace(status, busy=False)  # what the status said when it began is over
    return status, list(tracker.files.values())


def _where(f: FileEvent) -> str:
    return f"{f.repo_id} (whole repo)" if not f.path else f"{f.repo_id}/{f.path}"


class StatusView:
    """The service and its files (``status`` None: no service runs)."""

    def __init__(self, status: StatusReply | None, files: list[FileEvent] | None = None) -> None:
        self.status = status
        self.files = files or []

    def data(self) -> dict[str, Any]:
        if self.status is None:
            return {"service": "not running", "files": []}
        keys = ("repo_id", "repo_type", "path", "state", "done", "total", "rate", "message")
        return {"service": "running", "pid": self.status.pid, "busy": self.status.busy,
                "controls": self.status.controls.data(),
                "files": [{k: v for k, v in f.data().items() if k in keys} for f in self.files]}

    def text(self) -> Iterator[str]:
        from core.sizes import human

        from .controls import describe

        if self.status is None:
            yield "download service: not running on this root"
            return
        busy = "downloading" if self.status.busy else "idle"
        yield f"download service: running (pid {self.status.pid}), {busy}"
        yield from describe(self.status.controls)
        for f in self.files:
            rate = f" {human(int(f.rate))}/s" if f.rate and f.state is FileState.DOWNLOADING else ""
            reason = f": {f.message}" if f.message else ""
            yield f"{f.state:<11} {human(f.done)} / {human(f.total)}{rate}  {_where(f)}{reason}"
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.state] = counts.get(f.state, 0) + 1
        yield "files: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet")
