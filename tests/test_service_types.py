"""Issue 27's typed protocol on the client's side: every reply and event round-trips through its one encoder and
the one decoder, a line of another shape is a one-line error, and the one job tracker every client uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.local.lock import root_lock
from core.repos import RepoRef
from core.results import FileEvent, RepoResult, RunResult
from core.service import client as service
from core.service.events import (
    Accepted,
    ChecksMade,
    Cleaned,
    Controls,
    ControlsChanged,
    Done,
    ExportDone,
    FilesChanged,
    FilesQueued,
    Idle,
    JobResult,
    JobsEnded,
    PlanningChanged,
    Refused,
    StatusReply,
    Stopped,
    Verified,
    Working,
    decode,
    encode_chore,
    encode_event,
    encode_reply,
    refusal,
    status_head,
    with_files,
)
from core.service.tracker import JobTracker
from core.states import CheckStatus, FileState
from localhub import LocalHub

REF = RepoRef("model", "acme/tiny-model")


def _file(path: str, state: FileState, job: int = 1) -> FileEvent:
    return FileEvent("acme/tiny-model", "model", path, state, 5, 10, 2.5, None, 0, job)


def _result(done: int = 1) -> JobResult:
    return JobResult(RunResult([RepoResult("acme/tiny-model", "model", done=done, bytes_fetched=10)], 10),
                     {"repos": []})


def _status(pid: int = 7, results: dict[int, JobResult] | None = None, files: list[FileEvent] | None = None,
            busy: bool = True) -> StatusReply:
    return StatusReply(pid, "http://hub", busy, ((REF, "listing"),), (1,), results or {}, files or [],
                       Controls(500, True, (REF,), (), (REF,)), 1)


def test_every_reply_and_event_round_trips() -> None:
    from core.local.verify import FileCheck, VerifyResult

    status = _status(results={3: _result()}, files=[_file("a", FileState.DONE)])
    line = b"".join(with_files(status_head(status), [status.files]))
    assert decode(line) == status
    for reply in (Accepted(4, 2), Done((1, 2)), Done(controls=Controls(1)), Done(version=1)):
        assert decode(encode_reply(reply)) == reply
    for event in (FilesChanged([_file("b", FileState.PAUSED)]), PlanningChanged(((REF, "page 2"),)),
                  JobsEnded({5: _result(), 6: JobResult.from_data(None)}), ControlsChanged(Controls(0, False)),
                  Idle(), Stopped()):
        assert decode(encode_event(event)) == event
    check = FileCheck(CheckStatus.MISMATCH, "acme/tiny-model", "model", "a.bin", "sha256 differs")
    assert decode(encode_chore(ChecksMade([check]))) == ChecksMade([check])
    assert decode(encode_chore(FilesQueued([("acme/x", "model", "p")]))) == FilesQueued([("acme/x", "model", "p")])
    result = VerifyResult()
    result.add(check)
    result.repos.add(("model", "acme/tiny-model"))
    back = decode(encode_chore(Verified(result, "/r/report.json")))
    assert isinstance(back, Verified) and back.report == "/r/report.json"
    assert back.result.report() == result.report() and back.result.repos == result.repos
    done = ExportDone({"combined": "/r/c.json"}, [], [{"repo_id": "a/b"}], {"repos": []}, "")
    assert decode(encode_chore(done)) == done
    assert decode(encode_chore(Working())) == Working()
    cleaned = Cleaned("prune", [{"path": "models/a/a_b/x.incomplete", "bytes": 4096, "why": "partial download"}],
                      4096, True)
    assert decode(encode_chore(cleaned)) == cleaned


def test_a_long_chore_beats_while_it_works_and_one_line_at_a_time() -> None:
    """An export hashing a big root sends a ``working`` line a second, so a client reading with a timeout hears it
    is alive; the beats of a verify share the socket with its progress, a line at a time."""
    import threading
    import time

    from core.service.chores import heartbeat

    beats: list[float] = []
    inside = threading.Lock()

    def beat() -> None:
        assert inside.acquire(blocking=False)  # never two at once
        beats.append(time.monotonic())
        inside.release()

    with heartbeat(beat, every=0.05):
        time.sleep(0.3)
    count = len(beats)
    time.sleep(0.15)
    assert count >= 3 and len(beats) == count  # it beat while the block ran, and stopped with it


@pytest.mark.parametrize(("line", "error"), [
    (b"not json\n", "not JSON"), (b"[1]\n", "not a JSON object"), (b'{"event": "bells"}\n', "cannot read"),
    (b'{"event": "files", "files": [{"path": "x"}]}\n', "cannot read"),
    (b'{"event": "files", "files": [{"repo_id": "a", "repo_type": "model", "path": "x", "state": "lost", '
     b'"done": 1, "total": 1}]}\n', "cannot read"),
])
def test_a_line_of_another_shape_is_one_line_of_error(line: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decode(line)
    with pytest.raises(Refused, match="no such thing"):
        decode(refusal("no such thing"))


def test_the_tracker_folds_status_and_events_and_hears_an_end_before_its_number() -> None:
    tracker: JobTracker[str] = JobTracker()
    tracker.handing_over()
    assert tracker.pending
    update = tracker.attach(_status(results={1: _result()}, files=[_file("a", FileState.QUEUED)]))
    assert [e.job for e in update.ended] == [1] and not update.ended[0].mine  # not known as this client's yet
    ended = tracker.handed(1, "my request")  # the number came after the end: the end is given at once
    assert ended is not None and ended.mine and ended.payload == "my request" and ended.again
    update = tracker.apply(FilesChanged([_file("a", FileState.DONE)]))
    assert update.files == [(FileState.QUEUED, _file("a", FileState.DONE))]
    assert tracker.files[("model", "acme/tiny-model", "a")].state is FileState.DONE
    tracker.apply(ControlsChanged(Controls(9)))
    assert tracker.controls.max_rate == 9
    tracker.apply(Idle())
    assert not tracker.pending
    assert tracker.apply(JobsEnded({1: _result()})).ended == []  # heard once


def test_the_tracker_of_one_job_and_a_service_that_ends_or_restarts() -> None:
    tracker: JobTracker[None] = JobTracker(only_mine=True)
    tracker.attach(_status())
    tracker.handing_over()
    assert tracker.handed(2) is None
    update = tracker.apply(FilesChanged([_file("a", FileState.DOWNLOADING, job=1), _file("b", FileState.DONE, 2)]))
    assert [f.path for _, f in update.files] == ["b"]  # another client's job is not this one's
    detached = tracker.detach()  # the service was killed: the job is over, cancelled
    assert [(e.job, e.mine, e.result.run.cancelled) for e in detached.ended] == [(2, True, True)]
    other: JobTracker[None] = JobTracker()
    other.attach(_status(pid=1, results={1: _result()}))
    again = other.attach(_status(pid=2, results={1: _result(done=5)}))  # a new service: its job 1 is another
    assert [e.result.run.repos[0].done for e in again.ended] == [5]


def test_verify_and_export_go_through_the_running_service_and_otherwise_take_the_lock(
        svc_root: Path, hub: LocalHub, cli: Any) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    with root_lock(svc_root):  # a foreground download holds the root: nothing else writes it
        for args in (("verify",), ("inventory",), ("checksums",)):
            r = cli(*args)
            assert r.code == 2 and "is downloading into" in r.err and "Traceback" not in r.err, (args, r.err)
    with service.ensure(svc_root):
        pass  # the service holds the root's lock now: only asking it works
    r = cli("verify", "--json")
    assert r.code == 0 and r.json()["counts"]["ok"] == 8, r.err
    assert (svc_root / "inventory" / "verify_report.json").is_file()
    r = cli("inventory")
    assert r.code == 0 and "acme/tiny-model" in r.out and "wrote" in r.out, r.err
    r = cli("checksums", "--min-size", "0", "--json")
    assert r.code == 0 and r.json()[0]["entries"] >= 7, r.err
    (repo := svc_root / "models" / "acme" / "acme_tiny-model" / "config.json").write_text("{}")
    r = cli("verify")
    assert r.code == 1 and "MISMATCH" in r.out and "config.json" in r.out
    assert repo.exists()


def test_a_chore_that_waits_for_another_hears_working_and_then_its_end(tmp_path: Path) -> None:
    """Two clients' verifies at once: the second waits its turn (one writer of the caches at a time) and hears a
    ``working`` line a second meanwhile, so its read never times out; then its own end."""
    import socket
    import threading

    from core.service.requests import Verify
    from core.service.server import Service
    from core.settings import Settings

    service = Service(Settings(root=tmp_path, endpoint="http://127.0.0.1:9"))
    ours, theirs = socket.socketpair()
    service.chores.acquire()  # another client's chore runs
    answer: list[bytes] = []
    t = threading.Thread(target=lambda: answer.append(service._chore(ours, Verify())))
    t.start()
    theirs.settimeout(5)
    lines = theirs.makefile("rb")
    assert decode(lines.readline()) == Working()  # within a second or so: alive
    service.chores.release()
    t.join(10)
    done = decode(answer[0])
    assert isinstance(done, Verified) and done.result.counts["checked"] == 0
