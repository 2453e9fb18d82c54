"""Issue 27's live controls, against the local Hub with the real client: an overall bandwidth cap measured at
the server, pause (zero bytes served, kept across a restart) and resume to a verified file, a repo moved first,
the completion hook's environment, and the CLI and protocol faces of each."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BIG_SIZE, TOKEN, blob, eventually, repo_dir, service_status

from core.hub.download import Downloader
from core.hub.planner import make_plan
from core.hub.steering import Steering
from core.repos import RepoRef
from core.results import FileEvent
from core.service import client as service
from core.settings import Settings, load_settings
from core.states import FileState
from localhub import HubFile, HubRepo, LocalHub
from localhub.repos import Tiled

BIG = ("model", "acme/big-file")
_status = service_status


@pytest.fixture(autouse=True)
def _idle_later(svc_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_SERVICE_IDLE", "5")


@pytest.fixture(autouse=True)
def _counted_as_sent(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies written chunk by chunk, each counted as it is sent (a per-connection limit far above any cap here):
    the bytes served are read while the body flows, not once it ends."""
    monkeypatch.setattr(hub, "conn_limit", 1 << 40)


def _served(hub: LocalHub) -> int:
    return sum(hub.stats.bytes_served.values())


def _big(root: Path) -> dict[str, Any]:
    """big.bin's row (an empty one while the job is still planning)."""
    return next((f for f in _status(root)["files"] if f["path"] == "big.bin"), {"state": "", "done": 0})


HUGE = 48 << 20


@pytest.fixture
def huge_hub(svc_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHub]:
    """A Hub with one 48 MiB file, each body counted as it is sent: at a cap of 4 MB/s the loopback's socket
    buffers (several MB) are full within the first two seconds, after which the bytes the server sends each second
    are the bytes the client takes."""
    repo = HubRepo("acme/huge", "model", [HubFile("huge.bin", tiled=Tiled(blob("huge", 1 << 16), HUGE))])
    with LocalHub([repo], conn_limit=1 << 40) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield hub


def test_the_cap_holds_the_servers_rate_within_a_tenth_and_changes_while_running(
        svc_root: Path, huge_hub: LocalHub, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 4_000_000
    r = cli("download", "--model", "acme/huge", "--run", "--detach", "--max-rate", str(cap), "--connections", "1")
    assert r.code == 0, r.err
    eventually(lambda: _served(huge_hub) > 0)
    time.sleep(2.0)  # the sockets' buffers fill in the first moments: the rate is read after them
    start, at = _served(huge_hub), time.monotonic()
    time.sleep(4.5)
    rate = (_served(huge_hub) - start) / (time.monotonic() - at)
    assert abs(rate - cap) <= cap * 0.10, rate
    assert json.loads(cli("status", "--json").out)["files"][0]["state"] == "downloading"
    status = cli("status")
    assert "capped at 3.8 MiB/s" in status.out and "(4 connections)" not in status.out, status.out
    assert json.loads(cli("status", "--json").out)["controls"]["max_rate"] == cap
    r = cli("limit", "0")  # lifted while running: the rest comes at once
    assert r.code == 0 and "no cap" in r.out, r.err
    eventually(lambda: [f["state"] for f in _status(svc_root)["files"]] == ["done"], timeout=60)
    assert huge_hub.stats.bytes_served["huge.bin"] == HUGE  # nothing fetched twice


def test_pause_serves_nothing_keeps_the_bytes_survives_a_restart_and_resumes_to_a_verified_file(
        svc_root: Path, hub: LocalHub, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_MAX_RATE", "400K")
    assert cli("download", "--model", "acme/big-file", "--run", "--detach", "--connections", "1").code == 0
    eventually(lambda: _big(svc_root)["done"] > 500_000, timeout=30)
    r = cli("pause")
    assert r.code == 0 and "paused: everything" in r.out, r.err
    eventually(lambda: _big(svc_root)["state"] == "paused")
    kept = _big(svc_root)["done"]
    time.sleep(0.5)  # what was on the wire when it stopped
    before = _served(hub)
    time.sleep(3.0)
    assert _served(hub) == before  # paused: no connection, not a byte
    assert 0 < kept < BIG_SIZE and _status(svc_root)["busy"]
    assert service.stop(svc_root) is True  # a restart: the pause is the root's, not the process's
    r = cli("download", "--model", "acme/big-file", "--run", "--detach", "--connections", "1")
    assert r.code == 0, r.err
    eventually(lambda: _big(svc_root)["state"] == "paused")
    assert json.loads(cli("status", "--json").out)["controls"]["paused_all"] is True
    on_disk = _big(svc_root)["done"]
    assert on_disk == kept  # the new service found the bytes the paused one kept
    served = _served(hub)
    time.sleep(1.0)
    assert _served(hub) == served
    monkeypatch.delenv("MUSICGEN_MAX_RATE")
    r = cli("resume")
    assert r.code == 0 and "paused" not in r.out, r.out
    eventually(lambda: _big(svc_root)["state"] == "done", timeout=30)
    assert _served(hub) - served == BIG_SIZE - on_disk  # resumed from the kept bytes, never from zero
    v = cli("verify", "--model", "acme/big-file")
    assert v.code == 0 and "0 mismatch" in v.out, v.out + v.err


def test_pausing_one_repo_lets_the_others_run(svc_root: Path, hub: LocalHub, cli: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_MAX_RATE", "300K")
    assert cli("download", "--model", "acme/big-file", "--run", "--detach", "--connections", "1").code == 0
    eventually(lambda: _big(svc_root)["done"] > 0, timeout=30)
    assert cli("pause", "--model", "acme/big-file").code == 0
    eventually(lambda: _big(svc_root)["state"] == "paused")
    assert cli("limit", "0").code == 0
    assert cli("download", "--model", "acme/tiny-model", "--run", "--detach").code == 0
    tiny = ("model", "acme/tiny-model")
    eventually(lambda: [f["state"] for f in _status(svc_root)["files"]
                        if (f["repo_type"], f["repo_id"]) == tiny].count("done") == 8, timeout=30)
    assert _big(svc_root)["state"] == "paused"
    r = cli("resume", "--model", "acme/big-file")
    assert r.code == 0, r.err
    eventually(lambda: _big(svc_root)["state"] == "done", timeout=30)


def test_a_repo_moved_first_is_fetched_first(root: Path, hub: LocalHub) -> None:
    settings = Settings(root=root, endpoint=hub.url, min_free=0)
    steering = Steering()
    steering.place(BIG, first=True)
    events: list[FileEvent] = []
    plan = make_plan(settings, [RepoRef("model", "acme/tiny-model"), RepoRef(*BIG)])
    result = Downloader(settings, events.append, max_workers=1, steering=steering).run(plan)
    assert result.ok
    started = [e.repo_id for e in events if e.state is FileState.DOWNLOADING]
    assert started[0] == "acme/big-file" and started[-1] == "acme/tiny-model"
    assert started.index("acme/tiny-model") > max(i for i, r in enumerate(started) if r == "acme/big-file")


def test_priority_and_controls_through_the_cli_and_protocol(svc_root: Path, hub: LocalHub, cli: Any) -> None:
    r = cli("priority", "--model", "acme/big-file", "first")
    assert r.code == 2 and "no download service runs" in r.err  # nothing to steer
    assert cli("limit", "lots").code == 2
    with service.ensure(svc_root):
        pass
    r = cli("priority", "--model", "acme/big-file", "first", "--json")
    assert r.code == 0 and r.json()["first"] == [["model", "acme/big-file"]], r.err
    r = cli("priority", "--model", "acme/big-file", "last")
    assert "last: acme/big-file" in r.out and "first:" not in r.out
    with service.connect(svc_root) as client:  # type: ignore[union-attr]
        bad = client.raw({"op": "priority", "repo": ["model", "acme/big-file"], "place": "middle"})
        assert bad == {"ok": False, "error": "place must be first or last"}
        assert client.raw({"op": "limit", "max_rate": -1})["ok"] is False
        assert client.raw({"op": "limit", "max_rate": True})["ok"] is False


HOOK = """
import json, os, sys
keys = ("MUSICGEN_REPO_ID", "MUSICGEN_REPO_TYPE", "MUSICGEN_REPO_PATH", "MUSICGEN_STATUS", "MUSICGEN_BYTES")
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({k: os.environ.get(k) for k in keys} | {"token": "HF_TOKEN" in os.environ}) + "\\n")
sys.exit(3)
"""


def test_the_completion_hook_hears_each_repo_and_its_failure_is_only_logged(svc_root: Path, hub: LocalHub,
                                                                            cli: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    script, out = svc_root.parent / "hook.py", svc_root.parent / "hook out.jsonl"
    script.write_text(HOOK)
    monkeypatch.setenv("MUSICGEN_ON_DONE", f"{sys.executable} {script} '{out}'")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert cli("download", "--model", "acme/tiny-model", "--dataset", "acme/nope-missing", "--run",
               "--detach").code == 0
    eventually(lambda: out.exists() and len(out.read_text().splitlines()) == 2, timeout=30)
    heard = {d["MUSICGEN_REPO_ID"]: d for d in map(json.loads, out.read_text().splitlines())}
    tiny = heard["acme/tiny-model"]
    size = sum(len(f.read()) for f in hub.repos[("model", "acme/tiny-model")].files)
    assert tiny == {"MUSICGEN_REPO_ID": "acme/tiny-model", "MUSICGEN_REPO_TYPE": "model",
                    "MUSICGEN_REPO_PATH": str(repo_dir(svc_root, "model", "acme/tiny-model")),
                    "MUSICGEN_STATUS": "complete", "MUSICGEN_BYTES": str(size), "token": False}
    assert heard["acme/nope-missing"]["MUSICGEN_STATUS"] == "failed"
    eventually(lambda: "exited 3" in (svc_root / "musicgen-tui-service.log").read_text())
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0  # the service answers on
    assert TOKEN not in (svc_root / "musicgen-tui-service.log").read_text()


def test_bad_control_settings_are_named(root: Path, monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    for name, value in (("MUSICGEN_MAX_RATE", "fast"), ("MUSICGEN_ON_DONE", "say 'unbalanced"),
                        ("MUSICGEN_BELL", "maybe")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            load_settings(root)
        r = cli("status")
        assert r.code == 2 and name in r.err and "Traceback" not in r.err
        monkeypatch.delenv(name)


def test_one_cap_for_every_connection(root: Path, huge_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four ranged connections and one cap: the bytes the file holds grow at the cap, not four times it."""
    settings = Settings(root=root, endpoint=huge_hub.url, min_free=0, segment_min=8 << 20, connections=4,
                        max_rate=8_000_000)
    seen: list[tuple[float, int, int]] = []
    plan = make_plan(settings, [RepoRef("model", "acme/huge")])
    result = Downloader(settings, lambda e: seen.append((time.monotonic(), e.done, e.connections))).run(plan)
    assert result.ok and max(c for _, _, c in seen) == 4
    start = next(t for t, _, c in seen if c == 4)  # the time the four are open
    window = [(t, d) for t, d, _ in seen if start + 1.0 <= t <= start + 4.0]
    rate = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
    assert abs(rate - 8_000_000) <= 800_000, rate
