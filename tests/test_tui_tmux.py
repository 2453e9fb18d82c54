"""A real terminal: musicgen-tui in tmux at 80×24 against the local Hub, driven by keys, read by capture-pane."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import BIG_SIZE, bin_path, eventually, repo_dir, run_bin, subprocess_env

from localhub import Fault, LocalHub

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")


class Tmux:
    def __init__(self, name: str, server: str | None = None) -> None:
        self.name = name
        self.server = ["-L", server] if server else []  # a server of its own can be killed: a terminal gone

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *self.server, *args], capture_output=True, text=True, check=False).stdout

    def keys(self, *keys: str) -> None:
        for k in keys:
            self.tmux("send-keys", "-t", self.name, k)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, cond: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if cond(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"screen never matched; last screen:\n{self.screen()}")


@pytest.fixture
def term(tmp_path: Path, catalog_hub: LocalHub) -> Iterator[tuple[Tmux, Path, Path]]:
    root = tmp_path / "ws"
    root.mkdir()
    exit_file = tmp_path / "exit-code"
    env = subprocess_env(root, HF_ENDPOINT=catalog_hub.url, MUSICGEN_MIN_FREE="0", TERM="xterm-256color", NO_COLOR="1",
                         HF_HOME=str(tmp_path / "hf_home"))
    env_args = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    cmd = f"env -i {env_args} {shlex.quote(bin_path('musicgen-tui'))} --root {shlex.quote(str(root))}; " \
          f"echo $? > {shlex.quote(str(exit_file))}; sleep 60"
    name = f"mgt{time.monotonic_ns()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", cmd], check=True)
    try:
        yield Tmux(name), root, exit_file
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, check=False)


def test_new_user_flow_in_a_real_terminal(term: tuple[Tmux, Path, Path]) -> None:
    t, root, exit_file = term
    first = t.wait(lambda s: "facebook/musicgen-small" in s and "114.0 KiB" in s)
    assert "[ ]  facebook/musicgen-small" in first
    assert "token not set" in first
    t.keys("Space")
    t.wait(lambda s: "[x]  facebook/musicgen-small" in s and "1 selected" in s)
    t.keys("d")
    # the rows as well as the summary: a capture can land mid-frame (the summary's extra line lays the screen out
    # again), with the summary drawn and the table not yet
    done = t.wait(lambda s: "finished:" in s and ("done ✓" in s or "FAILED" in s))
    assert "done ✓" in done and "FAILED" not in done
    t.keys("v")
    t.wait(lambda s: "all files match" in s and "OK ✓" in s)
    t.keys("e")
    deadline = time.monotonic() + 20
    while not (root / "inventory" / "combined_inventory.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    t.keys("3")
    t.wait(lambda s: "models/facebook/facebook_musicgen-small" in s and "yes ✓" in s)
    t.keys("q")
    deadline = time.monotonic() + 20
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.read_text().strip() == "0"
    for rel in ("models/inventory.json", "datasets/inventory.json", "inventory/combined_inventory.json",
                "inventory/verify_report.json"):
        assert (root / rel).is_file(), rel
    assert (repo_dir(root, "model", "facebook/musicgen-small") / "state_dict.bin").is_file()
    assert not (root / "musicgen-tui.log").exists()  # nothing went wrong, so nothing was logged


def _app_in_tmux(root: Path, hub: LocalHub, server: str) -> Tmux:
    env = subprocess_env(root, HF_ENDPOINT=hub.url, MUSICGEN_MIN_FREE="0", TERM="xterm-256color", NO_COLOR="1")
    env_args = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    cmd = f"env -i {env_args} {shlex.quote(bin_path('musicgen-tui'))} --root {shlex.quote(str(root))}; sleep 60"
    t = Tmux("app", server)
    subprocess.run(["tmux", "-L", server, "new-session", "-d", "-s", "app", "-x", "100", "-y", "30", cmd], check=True)
    return t


def _big(root: Path) -> dict[str, object]:
    from core.service.client import connect

    client = connect(root)
    if client is None:
        return {}
    with client:
        files = client.raw({"op": "status"})["files"]
    return next((f for f in files if f["path"] == "big.bin"), {})


def test_the_apps_download_outlives_its_terminal_and_shows_in_the_next_app(tmp_path: Path, hub: LocalHub) -> None:
    """``d`` in the app, then its terminal goes (the tmux server killed: a hang-up): the service downloads on;
    a new app shows the file live; ``status --json`` and ``stop`` reach it; a new run resumes the partial file,
    and in all the file is served about once."""
    root = tmp_path / "ws"
    root.mkdir()
    hub.inject(Fault("slow", "big.bin", times=2, delay=0.01))  # 4 KiB each 10 ms: the 4 MiB file takes 10 s
    first = _app_in_tmux(root, hub, f"mgt-app-hup-{os.getpid()}")
    try:
        first.wait(lambda s: "facebook/musicgen-small" in s)
        first.keys("n")
        first.wait(lambda s: "Add a Hub repo" in s)
        first.keys("acme/big-file")
        first.wait(lambda s: "acme/big-file" in s)
        first.keys("Enter")
        first.wait(lambda s: "acme/big-file" in s and "1 selected" in s)
        first.keys("d")
        eventually(lambda: int(_big(root).get("done", 0)) > 0)  # type: ignore[call-overload]
    finally:
        first.tmux("kill-server")
    done = int(_big(root)["done"])  # type: ignore[call-overload]
    eventually(lambda: int(_big(root).get("done", 0)) > done)  # type: ignore[call-overload]  # still arriving
    second = _app_in_tmux(root, hub, f"mgt-app-again-{os.getpid()}")
    try:
        second.wait(lambda s: "facebook/musicgen-small" in s)
        second.keys("2")
        second.wait(lambda s: "big.bin" in s and "downloading" in s and "1 active" in s)
        r = run_bin([bin_path("musicgen-tui"), "status", "--json"], root)
        status = json.loads(r.stdout)
        assert r.returncode == 0 and status["service"] == "running"
        assert [f["state"] for f in status["files"] if f["path"] == "big.bin"] == ["downloading"]
        r = run_bin([bin_path("musicgen-tui"), "stop"], root)
        assert r.returncode == 0 and "partial files are kept" in r.stdout, r.stderr
        second.wait(lambda s: "cancelled" in s)  # the open app saw its service go
    finally:
        second.tmux("kill-server")
    partial = list(repo_dir(root, "model", "acme/big-file").rglob("*.incomplete"))
    assert partial and 0 < partial[0].stat().st_size < BIG_SIZE
    hub.clear_faults()
    r = run_bin([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run"], root,
                HF_ENDPOINT=hub.url, MUSICGEN_MIN_FREE="0")
    assert r.returncode == 0, r.stderr
    big = hub.repos[("model", "acme/big-file")].get("big.bin")
    assert big is not None
    assert (repo_dir(root, "model", "acme/big-file") / "big.bin").read_bytes() == big.read()
    assert hub.stats.bytes_served["big.bin"] <= 1.10 * BIG_SIZE
