"""Downloads under faults: resets, 5xx and 429, corrupt bodies, stalls, interruption and resume, two runs."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from conftest import BIG_SIZE, bin_path, repo_dir, subprocess_env

from core.local import metadata
from core.local.lock import root_lock
from localhub import Fault, LocalHub

BIG = ("model", "acme/big-file")


def big_bytes(hub: LocalHub) -> bytes:
    return hub.repos[BIG].get("big.bin").read()  # type: ignore[union-attr]


def big_path(root: Path) -> Path:
    return repo_dir(root, *BIG) / "big.bin"


def partials(root: Path) -> list[Path]:
    return list(repo_dir(root, *BIG).rglob("*.incomplete"))


def test_connection_reset_is_retried_and_resumed(cli, root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("reset", "big.bin", after_bytes=BIG_SIZE // 2))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert big_path(root).read_bytes() == big_bytes(hub)
    assert hub.stats.requests["GET"] >= 3  # small.txt, the cut request, the resumed one
    assert hub.stats.bytes_served["big.bin"] <= 1.05 * BIG_SIZE  # resumed from what arrived, not restarted


def test_5xx_burst_and_429_are_retried(cli, root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("status", "big.bin", times=2, status=503))
    hub.inject(Fault("status", "big.bin", times=1, status=500))
    hub.inject(Fault("status", "small.txt", times=1, status=429, retry_after=1))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert big_path(root).read_bytes() == big_bytes(hub)
    assert "HTTP 503" in r.err and "HTTP 500" in r.err


def test_lasting_5xx_fails_that_file_with_its_status(cli, root: Path, hub: LocalHub, monkeypatch) -> None:
    monkeypatch.setenv("MUSICGEN_RETRIES", "3")
    hub.inject(Fault("status", "big.bin", times=100, status=502))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 1
    assert "big.bin: gave up after 3 attempts" in r.out and "HTTP 502" in r.out
    assert (repo_dir(root, *BIG) / "small.txt").is_file()
    assert not big_path(root).exists()


def test_corrupt_body_is_caught_and_fetched_again(cli, root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("corrupt", "big.bin", after_bytes=1000))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert "sha256 mismatch, downloading again" in r.err
    assert big_path(root).read_bytes() == big_bytes(hub)


def test_persistent_corruption_fails_and_never_looks_finished(cli, root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("corrupt", "big.bin", times=10, after_bytes=1000))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 1
    assert "big.bin: sha256 mismatch" in r.out
    assert not big_path(root).exists()
    assert not partials(root)
    v = cli("verify")
    assert v.code == 1 and "MISSING" in v.out and "big.bin" in v.out
    inv = cli("inventory", "--json").json()
    assert inv["repos"][0]["complete"] is False


def test_stalled_connection_times_out_and_recovers(cli, root: Path, hub: LocalHub, monkeypatch) -> None:
    monkeypatch.setenv("MUSICGEN_READ_TIMEOUT", "1")
    hub.inject(Fault("stall", "big.bin", after_bytes=BIG_SIZE // 4, delay=4))
    started = time.monotonic()
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert big_path(root).read_bytes() == big_bytes(hub)
    assert time.monotonic() - started < 60  # it never hangs


def test_partial_from_earlier_run_is_resumed_with_range(cli, root: Path, hub: LocalHub) -> None:
    data = big_bytes(hub)
    etag = hub.repos[BIG].get("big.bin").sha256  # type: ignore[union-attr]
    paths = metadata.download_paths(repo_dir(root, *BIG), "big.bin")
    paths.metadata_path.parent.mkdir(parents=True)
    paths.incomplete_path(etag).write_bytes(data[: BIG_SIZE - 1_000_000])
    plan = cli("download", "--model", "acme/big-file", "--json").json()
    assert plan["repos"][0]["bytes_to_fetch"] == 1_000_000 + 2
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert hub.stats.bytes_served["big.bin"] == 1_000_000
    assert big_path(root).read_bytes() == data


def test_server_that_ignores_range_restarts_the_file_and_its_hash(root: Path, hub: LocalHub) -> None:
    """A partial from an earlier run, and a server (a CDN) that answers the Range request with the whole file:
    the partial is emptied, the hash restarts with it, and the progress never passes the file's size."""
    from core.hub.download import Downloader
    from core.hub.planner import make_plan
    from core.repos import RepoRef
    from core.results import FileEvent
    from core.settings import Settings
    from core.states import FileState

    data = big_bytes(hub)
    etag = hub.repos[BIG].get("big.bin").sha256  # type: ignore[union-attr]
    paths = metadata.download_paths(repo_dir(root, *BIG), "big.bin")
    paths.metadata_path.parent.mkdir(parents=True)
    paths.incomplete_path(etag).write_bytes(data[:1_000_000])
    hub.inject(Fault("ignore-range", "big.bin"))
    events: list[FileEvent] = []
    settings = Settings(root=root, endpoint=hub.url, min_free=0)
    result = Downloader(settings, events.append).run(make_plan(settings, [RepoRef(*BIG)]))
    assert result.ok
    assert big_path(root).read_bytes() == data
    assert hub.stats.bytes_served["big.bin"] == BIG_SIZE  # once: no hash mismatch, no second download
    assert result.bytes_fetched == sum(f.size for f in hub.repos[BIG].files)  # each body counted once
    downloading = [e.done for e in events if e.path == "big.bin" and e.state is FileState.DOWNLOADING]
    assert downloading[0] == 1_000_000  # the resume it asked for
    assert downloading[1] < 1_000_000  # the count restarted with the whole body, not on top of the partial
    assert max(e.done for e in events if e.path == "big.bin") == BIG_SIZE


def _start_slow_download(root: Path, hub: LocalHub) -> subprocess.Popen[str]:
    hub.inject(Fault("slow", "big.bin", delay=0.05))
    proc = subprocess.Popen([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run"],
                            env=subprocess_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 256 * 1024 for p in partials(root)):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the download never started")


def test_ctrl_c_exits_130_keeps_partial_and_next_run_resumes(root: Path, hub: LocalHub, cli) -> None:
    proc = _start_slow_download(root, hub)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "partial files are kept" in err
    assert "Traceback" not in err
    [part] = partials(root)
    kept = part.stat().st_size
    assert 0 < kept < BIG_SIZE
    hub.clear_faults()
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0
    assert big_path(root).read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] <= 1.10 * BIG_SIZE


def test_sigkill_then_run_again_resumes(root: Path, hub: LocalHub, cli) -> None:
    proc = _start_slow_download(root, hub)
    proc.kill()
    proc.communicate(timeout=30)
    hub.clear_faults()
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert big_path(root).read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] <= 1.10 * BIG_SIZE


def test_second_run_on_same_root_is_refused(cli, root: Path) -> None:
    with root_lock(root):
        r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 2  # could not run
    assert "another musicgen-tui" in r.err
    assert not (root / "models").exists()
