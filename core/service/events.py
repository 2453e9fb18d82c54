"""The service's answers as typed values: the replies to requests and the events a subscriber hears, each with
the one encoder the service writes them through and the one strict decoder every client reads them through.

A reply is ``{"ok": true, ...}`` or ``{"ok": false, "error": "one line"}``; an event is ``{"event": KIND, ...}``.
``protocol.py`` documents every field. A line a client cannot read as one of these is a ``ValueError``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..local.verify import FileCheck, VerifyResult
from ..repos import RepoRef
from ..results import FileEvent, RunResult
from ..states import CheckStatus


@dataclass(frozen=True)
class JobResult:
    """How a job ended: its run, the plan it made (as ``download --json`` prints it), and when the disk was short
    and the job was not forced, the space it found (``root``, ``needed``, ``to_fetch``, ``margin``, ``free``)."""

    run: RunResult
    plan: dict[str, Any] | None = None
    space: dict[str, Any] | None = None

    def data(self) -> dict[str, Any]:
        out = self.run.data()
        if self.plan is not None:
            out["plan"] = self.plan
        if self.space is not None:
            out["space"] = self.space
        return out

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> JobResult:
        """A RESULT read back; none (the service was stopped before the job ended) is a cancelled run."""
        if data is None:
            return cls(RunResult.from_data(None))
        return cls(RunResult.from_data(data), data.get("plan"), data.get("space"))


@dataclass(frozen=True)
class Controls:
    """The service's live controls: its overall bandwidth cap (bytes a second, 0 none), what is paused (every
    download, or these repos) and the repos moved to the front or back of the queue."""

    max_rate: int = 0
    paused_all: bool = False
    paused: tuple[RepoRef, ...] = ()
    first: tuple[RepoRef, ...] = ()
    last: tuple[RepoRef, ...] = ()

    def data(self) -> dict[str, Any]:
        def refs(items: tuple[RepoRef, ...]) -> list[list[str]]:
            return [[r.repo_type, r.repo_id] for r in items]

        return {"max_rate": self.max_rate, "paused_all": self.paused_all, "paused": refs(self.paused),
                "first": refs(self.first), "last": refs(self.last)}

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Controls:
        def refs(name: str) -> tuple[RepoRef, ...]:
            return tuple(RepoRef(t, i) for t, i in d.get(name, []))

        return cls(int(d.get("max_rate") or 0), bool(d.get("paused_all")), refs("paused"), refs("first"),
                   refs("last"))


Planning = tuple[tuple[RepoRef, str], ...]  # what the planning of each repo is doing now


@dataclass(frozen=True)
class StatusReply:
    pid: int
    endpoint: str
    busy: bool
    planning: Planning
    jobs: tuple[int, ...]  # queued or running
    results: dict[int, JobResult]  # the latest jobs that ended
    files: list[FileEvent]
    controls: Controls = field(default_factory=Controls)
    version: int = 0


@dataclass(frozen=True)
class Accepted:
    """A submit taken as job ``job``; ``queued`` jobs are queued or running with it."""

    job: int
    queued: int


@dataclass(frozen=True)
class Done:
    """A request carried out; ``jobs``: the jobs a cancel or stop reached; ``controls``: the controls after a
    control request."""

    jobs: tuple[int, ...] = ()
    controls: Controls | None = None
    version: int = 0


@dataclass(frozen=True)
class FilesChanged:
    files: list[FileEvent]


@dataclass(frozen=True)
class PlanningChanged:
    planning: Planning


@dataclass(frozen=True)
class JobsEnded:
    results: dict[int, JobResult]


@dataclass(frozen=True)
class ControlsChanged:
    controls: Controls


@dataclass(frozen=True)
class Idle:
    """Nothing is queued or running any more."""


@dataclass(frozen=True)
class Stopped:
    """The service ends (after the files and ``ended`` of the jobs it stopped)."""


Reply = StatusReply | Accepted | Done
Event = FilesChanged | PlanningChanged | JobsEnded | ControlsChanged | Idle | Stopped


class Refused(Exception):
    """The service's ``{"ok": false}``: its one-line ``error``."""


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def with_files(head: dict[str, Any], pieces: Iterable[list[FileEvent]]) -> Iterator[bytes]:
    """One line: ``head`` with a ``files`` list, in pieces as the files come (a status of 300,000 files is never
    one string)."""
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    yield (text[:-1] + ("," if head else "") + '"files":[').encode()
    sep = ""
    for files in pieces:
        if files:
            yield (sep + json.dumps([f.data() for f in files], ensure_ascii=False, separators=(",", ":"))[1:-1]
                   ).encode()
            sep = ","
    yield b"]}\n"


def planning_data(planning: Planning) -> list[list[str]]:
    return [[r.repo_type, r.repo_id, text] for r, text in planning]


def results_data(results: dict[int, JobResult]) -> dict[str, Any]:
    return {str(j): r.data() for j, r in results.items()}


def status_head(s: StatusReply) -> dict[str, Any]:
    """The status line but its files (``with_files`` adds them)."""
    return {"ok": True, "service": "running", "pid": s.pid, "endpoint": s.endpoint, "busy": s.busy,
            "planning": planning_data(s.planning), "jobs": list(s.jobs), "results": results_data(s.results),
            "controls": s.controls.data(), "version": s.version}


def encode_reply(reply: Accepted | Done) -> bytes:
    if isinstance(reply, Accepted):
        return dumps({"ok": True, "job": reply.job, "queued": reply.queued})
    out: dict[str, Any] = {"ok": True, "jobs": list(reply.jobs)}
    if reply.controls is not None:
        out["controls"] = reply.controls.data()
    if reply.version:
        out["version"] = reply.version
    return dumps(out)


def refusal(error: str, **extra: Any) -> bytes:
    return dumps({"ok": False, "error": error, **extra})


def encode_event(event: Event) -> bytes:
    """Every event but ``files`` (``with_files`` writes those, a piece at a time)."""
    if isinstance(event, PlanningChanged):
        return dumps({"event": "planning", "planning": planning_data(event.planning)})
    if isinstance(event, JobsEnded):
        return dumps({"event": "ended", "jobs": list(event.results), "results": results_data(event.results)})
    if isinstance(event, ControlsChanged):
        return dumps({"event": "controls", "controls": event.controls.data()})
    if isinstance(event, FilesChanged):
        return b"".join(with_files({"event": "files"}, [event.files]))
    return dumps({"event": "idle" if isinstance(event, Idle) else "stopped"})


def _planning(items: list[Any]) -> Planning:
    return tuple((RepoRef(t, i), str(text)) for t, i, text in items if t and i)


def _results(items: dict[str, Any]) -> dict[int, JobResult]:
    return {int(j): JobResult.from_data(r) for j, r in items.items()}


def decode(line: bytes) -> Reply | Event | Chore:
    """A line from the service as its typed value; a refusal raises ``Refused`` with the service's words; a line
    that is none of these is a ``ValueError``."""
    try:
        data = json.loads(line)
    except (RecursionError, ValueError):
        raise ValueError("the download service sent a line that is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the download service sent a line that is not a JSON object")
    try:
        return _decode(data)
    except (KeyError, TypeError, ValueError) as e:  # a field missing, of the wrong type, or an unknown state
        raise ValueError(f"the download service sent a message this client cannot read ({e!r})") from None


def _decode(d: dict[str, Any]) -> Reply | Event | Chore:
    if d.get("ok") is False:
        raise Refused(str(d.get("error") or "refused"))
    chore = decode_chore(d)
    if chore is not None:
        return chore
    kind = d.get("event")
    if kind is None and "pid" in d:
        return StatusReply(int(d["pid"]), str(d.get("endpoint", "")), bool(d["busy"]), _planning(d["planning"]),
                           tuple(int(j) for j in d["jobs"]), _results(d["results"]),
                           [FileEvent.from_data(f) for f in d["files"]], Controls.from_data(d.get("controls", {})),
                           int(d.get("version") or 0))
    if kind is None and "job" in d:
        return Accepted(int(d["job"]), int(d["queued"]))
    if kind is None:
        controls = d.get("controls")
        return Done(tuple(int(j) for j in d.get("jobs", [])),
                    None if controls is None else Controls.from_data(controls), int(d.get("version") or 0))
    if kind == "files":
        return FilesChanged([FileEvent.from_data(f) for f in d["files"]])
    if kind == "planning":
        return PlanningChanged(_planning(d["planning"]))
    if kind == "ended":
        return JobsEnded(_results(d["results"]))
    if kind == "controls":
        return ControlsChanged(Controls.from_data(d["controls"]))
    if kind == "idle":
        return Idle()
    if kind == "stopped":
        return Stopped()
    raise ValueError(f"unknown event {kind!r}")


# --- the root's chores (verify, export) asked of the service: their progress and their answers ---------------
@dataclass(frozen=True)
class FilesQueued:
    """Files a verify is about to hash: (repo_id, repo_type, path) each."""

    files: list[tuple[str, str, str]]


@dataclass(frozen=True)
class Working:
    """A chore is still at it (a line a second while it hashes): the client's read stays alive."""


@dataclass(frozen=True)
class ChecksMade:
    checks: list[FileCheck]


@dataclass(frozen=True)
class Verified:
    """A verify's end: its result, and where its report was written (None: the root could not be written)."""

    result: VerifyResult
    report: str | None


@dataclass(frozen=True)
class ExportDone:
    """An export's end: the inventories written (kind -> path), the checksum files written, and the repos as the
    inventory table lists them (``repo_id``, ``repo_type``, ``file_count``, ``size_bytes``, ``snapshot_id``,
    ``complete``) with the combined inventory."""

    inventories: dict[str, str]
    checksums: list[dict[str, Any]]
    repos: list[dict[str, Any]]
    combined: dict[str, Any]
    unwritable: str = ""  # why the root could not be written ("" when it could)
    views: str = ""  # what refreshing the runtime views did, when asked
    lock: str = ""  # the lock file written, when asked and the root verified clean
    lock_problems: list[FileCheck] = field(default_factory=list)  # why no lock was written


def check_data(c: FileCheck) -> dict[str, Any]:
    return {"status": str(c.status), "repo_id": c.repo_id, "repo_type": c.repo_type, "path": c.path,
            "detail": c.detail, "source": c.source}


def _check(d: dict[str, Any]) -> FileCheck:
    return FileCheck(CheckStatus(d["status"]), str(d["repo_id"]), str(d["repo_type"]), str(d["path"]),
                     str(d.get("detail", "")), str(d.get("source", "hub")))


@dataclass(frozen=True)
class Cleaned:
    """A remove's or a prune's end (``kind``): each item (a remove's rows: ``repo_id``, ``repo_type``, ``path``,
    ``files``, ``bytes_freed``, ``needed_by``, ``removed``, ``reason``; a prune's: ``path``, ``bytes``, ``why``),
    the bytes freed (or that would be, in a dry run) and whether it was one."""

    kind: str
    items: list[dict[str, Any]]
    bytes_freed: int
    dry_run: bool


Chore = FilesQueued | ChecksMade | Working | Verified | ExportDone | Cleaned


def encode_chore(message: Chore) -> bytes:
    if isinstance(message, FilesQueued):
        return dumps({"event": "queued", "files": [list(f) for f in message.files]})
    if isinstance(message, ChecksMade):
        return dumps({"event": "checks", "checks": [check_data(c) for c in message.checks]})
    if isinstance(message, Working):
        return dumps({"event": "working"})
    if isinstance(message, Cleaned):
        return dumps({"ok": True, "cleaned": {"kind": message.kind, "items": message.items,
                                              "bytes_freed": message.bytes_freed, "dry_run": message.dry_run}})
    if isinstance(message, Verified):
        r = message.result
        return dumps({"ok": True, "verified": {**r.report(), "repos": sorted([t, i] for t, i in r.repos)},
                      "report_path": message.report})
    return dumps({"ok": True, "exported": {"inventories": message.inventories, "checksums": message.checksums,
                                           "repos": message.repos, "combined": message.combined,
                                           "unwritable": message.unwritable, "views": message.views,
                                           "lock": message.lock,
                                           "lock_problems": [check_data(c) for c in message.lock_problems]}})


def decode_chore(d: dict[str, Any]) -> Chore | None:
    """A chore's line, or None when it is none of theirs."""
    kind = d.get("event")
    if kind == "queued":
        return FilesQueued([(str(i), str(t), str(p)) for i, t, p in d["files"]])
    if kind == "checks":
        return ChecksMade([_check(c) for c in d["checks"]])
    if kind == "working":
        return Working()
    if "verified" in d:
        v = d["verified"]
        problems = [_check(p) for p in v["problems"]]
        counts = v["counts"]
        tally: Counter[CheckStatus] = Counter({CheckStatus.OK: int(counts["ok"])})
        for p in problems:
            tally[p.status] += 1
        extras = [FileCheck(CheckStatus.EXTRA, str(x["repo_id"]), str(x["repo_type"]), str(x["path"]),
                            "not in the recorded listing") for x in v.get("extra", [])]
        result = VerifyResult(tally, problems, {(str(t), str(i)) for t, i in v["repos"]}, str(v["generated_at"]),
                              int(counts.get("checksum_lines", 0)), extras)
        return Verified(result, d.get("report_path"))
    if "cleaned" in d:
        c = d["cleaned"]
        return Cleaned(str(c["kind"]), [dict(i) for i in c["items"]], int(c["bytes_freed"]), bool(c["dry_run"]))
    if "exported" in d:
        e = d["exported"]
        return ExportDone(dict(e["inventories"]), list(e["checksums"]), list(e["repos"]), dict(e["combined"]),
                          str(e.get("unwritable", "")), str(e.get("views", "")), str(e.get("lock", "")),
                          [_check(c) for c in e.get("lock_problems", [])])
    return None
