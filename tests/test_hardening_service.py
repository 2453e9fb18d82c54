"""Issue 26 on the service: a cancel leaves no file "downloading"; stop ends within 2 s whatever it is doing."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import bin_path, eventually, service_status, subprocess_env

from core.service import client as service
from localhub import Fault, LocalHub

_status = service_status


@pytest.fixture(autouse=True)
def _idle_later(svc_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_SERVICE_IDLE", "5")  # a service asked for its status after a job stays up


def test_a_cancelled_job_reads_cancelled_everywhere_and_the_counts_add_up(svc_root: Path, hub: LocalHub,
                                                                           cli: Any) -> None:
    hub.inject(Fault("slow", "*", times=10_000, delay=0.2))
    with service.ensure(svc_root) as client:
        client.raw({"op": "submit", "repos": [["dataset", "acme/many-files"]], "max_workers": 2})
    eventually(lambda: sum(f["state"] == "downloading" for f in _status(svc_root)["files"]) == 2)
    follow = subprocess.Popen([bin_path("musicgen-tui"), "status", "--follow"], env=subprocess_env(svc_root),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    r = cli("cancel")
    assert r.code == 0, r.err
    eventually(lambda: not _status(svc_root)["busy"])
    files = _status(svc_root)["files"]
    states = {f["state"] for f in files}
    assert states <= {"done", "cancelled"} and "cancelled" in states, states
    assert len(files) == 2_502
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 1, err  # cancelled files: not everything arrived
    assert "downloading" not in out.replace("download service", "") and "cancelled" in out.splitlines()[-1]
    status = cli("status")
    assert "downloading" not in status.out.replace("download service", "") and "idle" in status.out
    counts = json.loads(cli("status", "--json").out)["files"]
    assert sum(1 for f in counts if f["state"] == "cancelled") + sum(1 for f in counts if f["state"] == "done") \
        == len(counts)
    hub.clear_faults()


def test_stop_while_planning_is_stalled_on_the_hub_ends_at_once(svc_root: Path, hub: LocalHub, cli: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub sends half of the file list and then nothing for 60 s (the read timeout, 60 s too): stop does not
    wait it out (STOP_WITHIN: 1.9 s)."""
    monkeypatch.setenv("MUSICGEN_READ_TIMEOUT", "60")
    hub.inject(Fault("stall", "*/tree/*", at="api", delay=60, times=10))
    with service.ensure(svc_root) as client:
        client.raw({"op": "submit", "repos": [["model", "acme/tiny-model"]]})
    eventually(lambda: hub.stats.requests["tree"] > 0)
    time.sleep(0.3)  # the answer's first half is in: the client waits on the rest
    started = time.monotonic()
    r = cli("stop")
    took = time.monotonic() - started
    assert r.code == 0 and "stopped" in r.out, r.err
    assert took < 10, took  # far below the stall's 60 s (measured: see docs/RELIABILITY.md)
    assert service.connect(svc_root) is None
    hub.clear_faults()


def test_a_cancelled_segmented_file_shows_the_bytes_it_keeps(svc_root: Path, hub: LocalHub, cli: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_SEGMENT_MIN", "1M")
    monkeypatch.setenv("MUSICGEN_CONNECTIONS", "4")
    hub.inject(Fault("slow", "big.bin", times=10_000, delay=0.2))
    with service.ensure(svc_root) as client:
        client.raw({"op": "submit", "repos": [["model", "acme/big-file"]]})

    def big() -> dict[str, Any]:
        return next((f for f in _status(svc_root)["files"] if f["path"] == "big.bin"), {})

    eventually(lambda: big().get("done", 0) > 0)
    assert cli("cancel", "--model", "acme/big-file", "--file", "big.bin").code == 0
    eventually(lambda: big().get("state") == "cancelled")
    assert big()["done"] > 0  # the bytes kept for resume, not 0
    hub.clear_faults()
    assert cli("stop").code == 0
    v = cli("verify", "--model", "acme/big-file", "--json").json()
    partial = next(p for p in v["problems"] if p["path"] == "big.bin")
    assert partial["status"] == "PARTIAL" and not partial["detail"].startswith("0 of")


def test_four_detached_downloads_started_at_once_are_four_jobs_all_finished(svc_root: Path, hub: LocalHub) -> None:
    """No service runs; four clients each start one at the same moment: one wins the root, the three others wait
    for it to listen and hand it their jobs (before, they exited 1 and their repos were never fetched)."""
    from conftest import repo_dir

    repos = [("--model", "acme/tiny-model"), ("--model", "acme/big-file"), ("--dataset", "acme/many-files"),
             ("--model", "acme/hostile")]
    procs = [subprocess.Popen([bin_path("musicgen-tui"), "download", *r, "--include", "*.txt", "--run", "--detach"],
                              env=subprocess_env(svc_root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in repos]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    eventually(lambda: not _status(svc_root)["busy"], timeout=120)
    assert len(_status(svc_root)["results"]) == 4
    for flag, repo in repos:
        folder = repo_dir(svc_root, "model" if flag == "--model" else "dataset", repo)
        assert any(folder.rglob("*.txt")), repo


def test_detach_while_a_foreground_download_holds_the_root_is_refused_without_a_long_wait(
        svc_root: Path, cli: Any) -> None:
    from core.local.lock import root_lock

    with root_lock(svc_root):  # a foreground `download --run`: no service will come
        started = time.monotonic()
        r = cli("download", "--model", "acme/tiny-model", "--run", "--detach")
        took = time.monotonic() - started
    assert r.code == 2 and "is downloading into" in r.err
    assert took < 10  # no socket came within SOCKET_GRACE: not START_WAIT's 15 s


def test_a_client_with_another_token_is_told_and_its_token_used_after_the_stop(
        svc_root: Path, hub: LocalHub, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service started without a token; the user sets HF_TOKEN: the service never downloads the gated repo
    with its own (no) token silently. The client is told in one line what to do; after it, the token works."""
    from conftest import TOKEN, repo_dir

    assert cli("download", "--model", "acme/gated-model", "--run", "--detach").code == 0
    eventually(lambda: not _status(svc_root)["busy"])
    gated = next(f for f in _status(svc_root)["files"] if f["repo_id"] == "acme/gated-model")
    assert gated["message"].startswith("gated repo: needs a token")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    r = cli("download", "--model", "acme/gated-model", "--run", "--detach")
    assert r.code == 2 and "runs with another HF_TOKEN than yours" in r.err and "`musicgen-tui stop`" in r.err
    assert TOKEN not in r.out + r.err
    assert cli("stop").code == 0
    assert cli("download", "--model", "acme/gated-model", "--run", "--detach").code == 0
    eventually(lambda: (repo_dir(svc_root, "model", "acme/gated-model") / "w.bin").is_file(), timeout=60)
    assert TOKEN not in (svc_root / "musicgen-tui-service.log").read_text()
