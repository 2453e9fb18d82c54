"""The download service on its own: a detached process per root, its socket and protocol, and the CLI's
``download --run --detach``, ``status`` and ``stop`` as clients (the service runs as a real process, against the
local Hub)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BIG_SIZE, bin_path, eventually, repo_dir, run_bin, service_status, subprocess_env, tree_bytes

from core.local.lock import LockHeld
from core.service import client as service
from core.service.events import Idle, StatusReply
from core.service.protocol import socket_path
from core.service.server import Service
from core.settings import load_settings
from localhub import Fault, LocalHub

BIG = ("model", "acme/big-file")


_status = service_status


def _files(root: Path, repo: tuple[str, str]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in _status(root)["files"] if (f["repo_type"], f["repo_id"]) == repo}


def test_submit_subscribe_and_the_files_arrive_whole(svc_root: Path, hub: LocalHub) -> None:
    with service.ensure(svc_root) as client:
        assert client.raw({"op": "submit", "repos": [["model", "acme/tiny-model"]]})["queued"] == 1
    with service.connect(svc_root) as client:  # type: ignore[union-attr]
        events = []
        for event in client.subscribe():
            events.append(event)
            if isinstance(event, Idle):
                break
    assert isinstance(events[0], StatusReply) and events[0].pid  # the snapshot comes first
    files = _files(svc_root, ("model", "acme/tiny-model"))
    assert len(files) == 8 and {f["state"] for f in files.values()} == {"done"}
    assert {k for f in files.values() for k in f} == {"repo_id", "repo_type", "path", "state", "done", "total",
                                                       "rate", "message", "job", "connections"}
    expected = {f.path: f.read() for f in hub.repos[("model", "acme/tiny-model")].files}
    assert tree_bytes(repo_dir(svc_root, "model", "acme/tiny-model")) == expected
    eventually(lambda: not socket_path(svc_root).exists(), timeout=15)  # idle, no client: it ends by itself
    assert _status(svc_root) == {"service": "not running", "files": []}


def test_owner_only_socket_one_service_per_root_and_a_stale_socket(svc_root: Path, hub: LocalHub) -> None:
    with service.ensure(svc_root) as client:
        pid = client.raw({"op": "status"})["pid"]
    path = socket_path(svc_root)
    assert stat.S_ISSOCK(path.lstat().st_mode) and stat.S_IMODE(path.lstat().st_mode) == 0o600
    with pytest.raises(LockHeld):  # a second service on the same root
        Service(load_settings(svc_root), idle_exit=0).serve()
    with service.connect(svc_root) as still:  # type: ignore[union-attr]
        assert still.raw({"op": "status"})["pid"] == pid  # the first still answers
    os.kill(pid, signal.SIGKILL)  # a killed service leaves its socket behind
    eventually(lambda: not _alive(pid))
    assert path.exists()
    assert service.connect(svc_root) is None and path.exists()  # nobody listens: a client never unlinks it
    with service.ensure(svc_root) as client:  # the next client starts a new one, which replaces it
        assert client.raw({"op": "status"})["pid"] != pid
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with service.connect(svc_root) as client:  # type: ignore[union-attr]
        client.raw({"op": "stop"})
    eventually(lambda: not path.exists())
    os.chmod(svc_root, 0o700)
    sock.bind(str(path))
    os.chmod(path, 0o666)  # someone else's kind of socket: refused, never connected to
    with pytest.raises(service.ServiceError, match="owner-only"):
        service.connect(svc_root)
    sock.close()
    path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (our child, not yet reaped) is dead too
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_detach_status_stop_then_resume_serves_the_file_once(svc_root: Path, hub: LocalHub) -> None:
    """``download --run --detach`` returns at once; the download runs on; ``stop`` keeps the partial file;
    a killed service's partial file is resumed too; in all, the big file is served about once."""
    hub.inject(Fault("slow", "*", times=1000, delay=0.2))
    started = time.monotonic()
    r = run_bin([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run", "--detach"], svc_root)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 15 and "status --follow" in r.stdout
    eventually(lambda: _files(svc_root, BIG).get("big.bin", {}).get("done", 0) > 0)
    r = run_bin([bin_path("musicgen-tui"), "status", "--json"], svc_root)
    assert r.returncode == 0 and '"service": "running"' in r.stdout and "big.bin" in r.stdout
    r = run_bin([bin_path("musicgen-tui"), "stop"], svc_root)
    assert r.returncode == 0 and "partial files are kept" in r.stdout, r.stderr
    assert not socket_path(svc_root).exists()
    partial = list(repo_dir(svc_root, *BIG).rglob("*.incomplete"))
    assert partial and 0 < partial[0].stat().st_size < BIG_SIZE
    # again, and this time the service is killed mid-file: the next one resumes from what arrived
    r = run_bin([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run", "--detach"], svc_root)
    assert r.returncode == 0, r.stderr
    before = partial[0].stat().st_size
    eventually(lambda: partial[0].exists() and partial[0].stat().st_size > before)
    os.kill(_status(svc_root)["pid"], signal.SIGKILL)
    hub.clear_faults()
    r = run_bin([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run", "--detach"], svc_root)
    assert r.returncode == 0, r.stderr
    r = run_bin([bin_path("musicgen-tui"), "status", "--follow"], svc_root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (repo_dir(svc_root, *BIG) / "big.bin").read_bytes() == hub.repos[BIG].get("big.bin").read()  # type: ignore[union-attr]
    assert hub.stats.bytes_served["big.bin"] <= 1.10 * BIG_SIZE


def test_status_and_stop_without_a_service(cli: Any) -> None:
    assert cli("status", "--json").json() == {"service": "not running", "files": []}
    r = cli("stop")
    assert r.code == 0 and "no download service" in r.out
    r = cli("download", "--model", "acme/tiny-model", "--detach")
    assert r.code == 2 and "--detach needs --run" in r.err


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_hang_up_never_stops_a_detached_download(svc_root: Path, hub: LocalHub) -> None:
    """``download --run --detach`` typed in a terminal that then goes away (its tmux server killed: every
    process of the terminal gets a hang-up): the bytes keep arriving and the file completes whole."""
    hub.inject(Fault("slow", "*", times=5, delay=0.005))  # 4 KiB each 5 ms: the 4 MiB file takes about 5 s
    server = f"mgt-hup-{os.getpid()}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in subprocess_env(svc_root).items() if k.isidentifier())
    mgt = shlex.quote(bin_path("musicgen-tui"))
    cmd = f"env -i {env} {mgt} download --model acme/big-file --run --detach; sleep 60"
    subprocess.run(["tmux", "-L", server, "new-session", "-d", "-x", "80", "-y", "24", cmd], check=True)
    try:
        eventually(lambda: _files(svc_root, BIG).get("big.bin", {}).get("done", 0) > 0)
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, check=False)
    done = _files(svc_root, BIG)["big.bin"]["done"]
    eventually(lambda: _files(svc_root, BIG).get("big.bin", {}).get("done", 0) > done)  # still arriving
    eventually(lambda: _files(svc_root, BIG).get("big.bin", {}).get("state") == "done", timeout=60)
    assert (repo_dir(svc_root, *BIG) / "big.bin").read_bytes() == hub.repos[BIG].get("big.bin").read()  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_hang_up_never_stops_a_foreground_download(root: Path, hub: LocalHub) -> None:
    """``download --run`` in a terminal that goes away mid-file: it ignores the hang-up and runs on without a
    terminal (its progress unprinted) until the file is whole; no service is involved."""
    hub.inject(Fault("slow", "*", times=5, delay=0.005))
    server = f"mgt-hup-fg-{os.getpid()}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in subprocess_env(root).items() if k.isidentifier())
    mgt = shlex.quote(bin_path("musicgen-tui"))
    cmd = f"env -i {env} {mgt} download --model acme/big-file --run"
    subprocess.run(["tmux", "-L", server, "new-session", "-d", "-x", "80", "-y", "24", cmd], check=True)
    folder = repo_dir(root, *BIG)
    try:
        eventually(lambda: any(p.stat().st_size > 0 for p in folder.rglob("*.incomplete")))
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, check=False)
    eventually(lambda: (folder / "big.bin").is_file(), timeout=60)
    assert (folder / "big.bin").read_bytes() == hub.repos[BIG].get("big.bin").read()  # type: ignore[union-attr]
    assert not socket_path(root).exists()


def test_a_foreground_run_goes_through_a_running_service(svc_root: Path, hub: LocalHub, cli: Any) -> None:
    """``download --run`` while the root's service runs: the service downloads (the one writer), the command
    shows progress and results as a foreground run does, with the same exit codes."""
    with service.ensure(svc_root):
        pass
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 0, r.err
    assert "download service of this root downloads it" in r.err and "done    acme/tiny-model/state_dict.bin" in r.err
    assert "acme/tiny-model: ok: 8 fetched, 0 already complete, 0 failed" in r.out
    expected = {f.path: f.read() for f in hub.repos[("model", "acme/tiny-model")].files}
    assert tree_bytes(repo_dir(svc_root, "model", "acme/tiny-model")) == expected
    r = cli("download", "--model", "acme/tiny-model", "--run", "--json")
    assert r.code == 0 and r.json()["result"]["repos"][0]["skipped"] == 8  # nothing to fetch the second time
    plan = r.json()  # the plan as a foreground run prints it, then its result
    assert plan["space_ok"] and plan["repos"][0]["file_count"] == 8 and plan["repos"][0]["status"] == "complete"
    r = cli("download", "--model", "acme/no-such-model", "--run")
    assert r.code == 1 and "not on this endpoint" in r.out


def test_ctrl_c_of_a_run_through_the_service_cancels_its_job_only(svc_root: Path, hub: LocalHub) -> None:
    with service.ensure(svc_root):
        pass
    hub.inject(Fault("slow", "*", times=1000, delay=0.2))
    proc = subprocess.Popen([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run"],
                            env=subprocess_env(svc_root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: _files(svc_root, BIG).get("big.bin", {}).get("done", 0) > 0)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "partial files are kept" in err
    seen: list[dict[str, Any]] = []
    eventually(lambda: seen.append(_status(svc_root)) or not seen[-1].get("busy"))  # the job stopped
    assert seen[-1]["service"] == "running"  # the service did not
    assert [f["state"] for f in seen[-1]["files"] if f["path"] == "big.bin"] != ["done"]
    assert list(repo_dir(svc_root, *BIG).rglob("*.incomplete"))


def test_cancel_one_file_then_one_repo_and_the_rest_runs_on(svc_root: Path, hub: LocalHub, cli: Any) -> None:
    """``cancel --model ID --file PATH`` stops that file only (cancelled, its partial kept) while the
    rest of the job completes; ``cancel --model ID`` stops a repo's files; the service runs on throughout."""
    hub.inject(Fault("slow", "big.bin", times=1000, delay=0.2))
    with service.ensure(svc_root) as client:
        client.raw({"op": "submit", "repos": [["model", "acme/big-file"], ["model", "acme/tiny-model"]]})
    eventually(lambda: _files(svc_root, BIG).get("big.bin", {}).get("done", 0) > 0)
    r = cli("cancel", "--model", "acme/big-file", "--file", "big.bin")
    assert r.code == 0 and "cancelled acme/big-file/big.bin in 1 job(s)" in r.out, r.err
    eventually(lambda: not _status(svc_root)["busy"])
    big = _files(svc_root, BIG)
    assert big["big.bin"]["state"] == "cancelled" and big["big.bin"]["message"].startswith("cancelled")
    assert big["small.txt"]["state"] == "done"
    assert {f["state"] for f in _files(svc_root, ("model", "acme/tiny-model")).values()} == {"done"}
    partial = list(repo_dir(svc_root, *BIG).rglob("*.incomplete"))
    assert partial and 0 < partial[0].stat().st_size < BIG_SIZE
    with service.connect(svc_root) as client:  # type: ignore[union-attr]
        job = client.raw({"op": "submit", "repos": [["model", "acme/big-file"]]})["job"]
    eventually(lambda: _files(svc_root, BIG)["big.bin"]["state"] == "downloading")
    r = cli("cancel", "--model", "acme/big-file")
    assert r.code == 0 and "cancelled acme/big-file in 1 job(s)" in r.out
    eventually(lambda: not _status(svc_root)["busy"])
    status = _status(svc_root)
    assert status["service"] == "running" and status["results"][str(job)]["repos"][0]["cancelled"] == 1
    assert _files(svc_root, BIG)["big.bin"]["state"] == "cancelled"
    assert "nothing to cancel" in cli("cancel").out
    assert cli("cancel", "--file", "big.bin").code == 2


def test_a_service_with_another_endpoint_is_named_to_the_client(svc_root: Path, cli: Any) -> None:
    from dataclasses import replace

    with service.ensure(svc_root, replace(load_settings(svc_root), endpoint="http://127.0.0.1:9")):
        pass  # started by a client with other settings: it keeps them
    r = cli("download", "--model", "acme/tiny-model", "--run", "--detach")
    assert r.code == 0 and "service uses http://127.0.0.1:9, not http://127.0.0.1:" in r.err
    assert "`musicgen-tui stop` ends it" in r.err
