"""A real terminal: musicgen-tui in tmux at 80×24 against the local Hub, driven by keys, read by capture-pane."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import bin_path, repo_dir, subprocess_env

from localhub import LocalHub

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")


class Tmux:
    def __init__(self, name: str) -> None:
        self.name = name

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout

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
