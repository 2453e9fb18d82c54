"""``musicgen-tui status``: the root's download service and every file it knows, once or, with ``--follow``,
live until nothing is left queued or running."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from ..common import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, settings_for
from ..output import Output

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
    except ServiceError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if client is None:
        out.show(StatusView(None))
        return EXIT_OK
    with client:
        if not args.follow:
            out.show(StatusView(client.request({"op": "status"})))
            return EXIT_OK
        status = _follow(client, out)
    out.show(StatusView(status))
    return EXIT_FAILED if any(f["state"] in ("failed", "cancelled") for f in status["files"]) else EXIT_OK


def _follow(client: Any, out: Output) -> dict[str, Any]:
    """Events until the service is idle (or ends); lines for files that end and for planning. Returns the last
    status, brought up to date by the events."""
    from core.sizes import human

    status: dict[str, Any] = {}
    files: dict[tuple[str, str, str], dict[str, Any]] = {}
    for event in client.subscribe():
        kind = event.get("event")
        if kind is None:  # the first line: the status
            status = event
            files = {(f["repo_type"], f["repo_id"], f["path"]): f for f in event["files"]}
        elif kind == "files":
            for f in event["files"]:
                key = (f["repo_type"], f["repo_id"], f["path"])
                before = files.get(key, {}).get("state")
                files[key] = f
                if f["state"] != before and f["state"] == "done":
                    out.say(f"done    {f['repo_id']}/{f['path']} ({human(f['total'])})")
                elif f["state"] != before and f["state"] == "failed":
                    out.say(f"FAILED  {_where(f)}: {f['message']}")
        elif kind == "planning":
            for _type, repo_id, text in event["planning"]:
                out.say(f"planning {repo_id}: {text}")
        elif kind in ("idle", "stopped"):
            status["busy"] = False  # what the status said when it began is over
            break
    status["files"] = list(files.values())
    if not status:
        status = {"service": "not running", "files": []}
    return status


def _where(f: dict[str, Any]) -> str:
    return f"{f['repo_id']} (whole repo)" if not f["path"] else f"{f['repo_id']}/{f['path']}"


class StatusView:
    """The service and its files: ``service`` is "running" or "not running"."""

    def __init__(self, status: dict[str, Any] | None) -> None:
        self.status = status

    def data(self) -> dict[str, Any]:
        if self.status is None:
            return {"service": "not running", "files": []}
        keys = ("repo_id", "repo_type", "path", "state", "done", "total", "rate", "message")
        return {"service": "running", "pid": self.status.get("pid"), "busy": self.status.get("busy", False),
                "files": [{k: f.get(k) for k in keys} for f in self.status["files"]]}

    def text(self) -> Iterator[str]:
        from core.sizes import human

        if self.status is None:
            yield "download service: not running on this root"
            return
        files = self.status["files"]
        busy = "downloading" if self.status.get("busy") else "idle"
        yield f"download service: running (pid {self.status.get('pid')}), {busy}"
        for f in files:
            rate = f" {human(int(f['rate']))}/s" if f.get("rate") and f["state"] == "downloading" else ""
            reason = f": {f['message']}" if f.get("message") else ""
            yield f"{f['state']:<11} {human(f['done'])} / {human(f['total'])}{rate}  {_where(f)}{reason}"
        counts: dict[str, int] = {}
        for f in files:
            counts[f["state"]] = counts.get(f["state"], 0) + 1
        yield "files: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet")
