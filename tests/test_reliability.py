"""The rest of the fault matrix: a full disk, a kill during an inventory write, two runs at once, revisions,
token hygiene everywhere, and the app under faults. (Resets, 5xx/429, corruption, stalls and resume across
runs are in test_faults.py.)"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BIG_SIZE, TOKEN, bin_path, repo_dir, subprocess_env

from core.settings import Settings
from localhub import Fault, LocalHub
from tui.app import make_app
from tui.bindings import BINDINGS

REPO_ROOT = Path(__file__).resolve().parents[1]
BIG = ("model", "acme/big-file")


@pytest.fixture
def small_disk(tmp_path: Path, root: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs as the workspace root (the big file is 4 MiB); skipped where mounting is not allowed."""
    disk = tmp_path / "small-disk"
    disk.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or p.returncode}): no disk to fill")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def test_disk_full_keeps_partial_and_valid_inventories(cli, small_disk: Path, hub: LocalHub) -> None:
    from cli.main import main

    def run(*args: str) -> int:
        return main([*args, "--root", str(small_disk)])

    assert run("inventory") == 0
    before = {p: p.read_text() for p in small_disk.rglob("*.json")}
    code = run("download", "--model", "acme/big-file", "--run", "--force")
    assert code == 1
    partial = list(repo_dir(small_disk, *BIG).rglob("*.incomplete"))
    assert partial and 0 < partial[0].stat().st_size < BIG_SIZE  # what arrived is kept for resume
    assert not (repo_dir(small_disk, *BIG) / "big.bin").exists()
    for p, text in before.items():  # the old inventories are untouched and valid
        assert p.read_text() == text
        json.loads(text)
    run("inventory")  # may itself fail for lack of space; whatever it leaves must be valid JSON
    for p in small_disk.rglob("*.json"):
        if ".cache" not in p.parts:
            json.loads(p.read_text())
    combined = json.loads((small_disk / "inventory" / "combined_inventory.json").read_text())
    assert not any(r["complete"] for r in combined["repos"] if r["repo_id"] == "acme/big-file")


def test_disk_full_message_names_the_disk(cli, small_disk: Path, hub: LocalHub, capsys) -> None:
    from cli.main import main

    main(["download", "--model", "acme/big-file", "--run", "--force", "--root", str(small_disk)])
    out = capsys.readouterr()
    assert f"disk full at {small_disk}" in out.out
    assert "partial files are kept" in out.out
    assert "Traceback" not in out.out + out.err


def test_kill_during_inventory_write_leaves_the_old_file(cli, root: Path) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert cli("inventory").code == 0
    target = root / "models" / "inventory.json"
    old = target.read_text()
    (repo_dir(root, "model", "acme/tiny-model") / "extra.bin").write_bytes(b"x" * 100)
    code = (
        "import os, signal, sys\n"
        "from core.local import inventory, jsonio\n"
        "real = os.fsync\n"
        "def die(fd):\n"
        "    real(fd)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "jsonio.os.fsync = die\n"
        f"inventory.write(__import__('pathlib').Path({str(root)!r}))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert p.returncode == -9
    assert target.read_text() == old
    json.loads(old)


def test_second_run_on_the_same_root_refuses_while_one_downloads(root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("slow", "big.bin", delay=0.02))
    first = subprocess.Popen([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run"],
                             env=subprocess_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (root / ".musicgen-tui.lock").exists() or not list(root.rglob("*.incomplete")):
        assert time.monotonic() < deadline, "the first run never started"
        time.sleep(0.05)
    second = subprocess.run([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run"],
                            env=subprocess_env(root), capture_output=True, text=True, timeout=60)
    assert second.returncode == 2  # could not run: the root is held
    assert "another musicgen-tui" in second.stderr and "is downloading into" in second.stderr
    hub.clear_faults()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert (repo_dir(root, *BIG) / "big.bin").stat().st_size == BIG_SIZE


def test_revision_not_found_is_one_line_and_others_complete(cli, root: Path, hub: LocalHub) -> None:
    r = cli("download", "--model", "acme/tiny-model", "--revision", "v9.9", "--run")
    assert r.code == 1
    assert "acme/tiny-model: revision 'v9.9' not found on this endpoint" in r.out
    commit = hub.repos[("model", "acme/tiny-model")].commit
    r = cli("download", "--model", "acme/tiny-model", "--revision", commit, "--run")
    assert r.code == 0


def test_token_never_appears_anywhere(cli, root: Path, hub: LocalHub, tmp_path: Path) -> None:
    (root / ".env").write_text(f"HF_TOKEN={TOKEN}\n")
    outputs = []
    for args in (("download", "--model", "acme/gated-model", "--model", "acme/tiny-model", "--run"),
                 ("download", "--model", "acme/gated-model", "--json"), ("inventory", "--json"),
                 ("checksums", "--min-size", "0"), ("verify", "--json"), ("catalog",)):
        r = cli(*args)
        outputs.append(r.out + r.err)
    assert (repo_dir(root, "model", "acme/gated-model") / "w.bin").is_file()
    # a failure with the token set: the export, done by the root's service, fails; the service logs it, the app
    # shows and logs its one line
    combined = root / "inventory" / "combined_inventory.json"
    combined.unlink()
    combined.mkdir()  # export cannot write here

    async def export_fails() -> None:
        app = make_app(Settings(root=root, endpoint=hub.url, token=TOKEN, min_free=0), background=False)
        async with app.run_test() as pilot:
            await pilot.press("e")
            for _ in range(100):
                await pilot.pause(0.05)
                if (root / "musicgen-tui.log").exists():
                    break

    asyncio.run(export_fails())
    log = (root / "musicgen-tui.log").read_text()
    assert "export failed" in log and "combined_inventory.json" in log
    assert "export failed" in (root / "musicgen-tui-service.log").read_text()
    for text in [*outputs, log]:
        assert TOKEN not in text
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.name != ".env":
            assert TOKEN.encode() not in p.read_bytes(), p


def test_env_is_ignored_and_the_example_holds_no_secret() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT)
    assert ignored.returncode == 0
    example = (REPO_ROOT / ".env.example").read_text()
    assert "HF_TOKEN=\n" in example
    assert "hf_" not in example.replace("hf auth", "").replace("hf download", "")
    documented = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert documented == {"HF_TOKEN", "HF_ENDPOINT", "MUSICGEN_ROOT", "MUSICGEN_READ_TIMEOUT", "MUSICGEN_RETRIES",
                          "MUSICGEN_MIN_FREE", "MUSICGEN_KEYMAP", "MUSICGEN_SERVICE_IDLE",
                          "MUSICGEN_CONNECTIONS", "MUSICGEN_SEGMENT_MIN", "MUSICGEN_CHECKSUM_MIN",
                          "MUSICGEN_MAX_RATE", "MUSICGEN_ON_DONE", "MUSICGEN_BELL",
                          "MUSICGEN_SOURCES_ENDPOINT", "MUSICGEN_CATALOG",
                          "MUSICGEN_DEBUG"}  # each one read by the code
    read = set(re.findall(r'(?:\.get\(|_read\(env, )"([A-Z_]+)"', (REPO_ROOT / "core" / "settings.py").read_text()))
    assert documented == read
    ids = re.search(r"Ids: (.*?)\. Example", example.replace("\n# ", " "))
    assert ids is not None and ids.group(1).split() == [b.id for b in BINDINGS]


def test_app_under_faults_shows_retries_and_failures(tmp_path: Path, hub: LocalHub) -> None:
    hub.inject(Fault("status", "big.bin", times=2, status=503))
    hub.inject(Fault("corrupt", "weights/model.safetensors", after_bytes=100))
    hub.inject(Fault("status", "config.json", times=100, status=500))
    seen: set[str] = set()

    async def go() -> None:
        settings = Settings(root=tmp_path, endpoint=hub.url, min_free=0, read_timeout=2, retries=3)
        app = make_app(settings, background=False)
        async with app.run_test(size=(120, 40)) as pilot:
            for key in ("model:acme/big-file", "model:acme/tiny-model"):
                from core.repos import RepoRef
                from tui.select_pane import Entry

                app.entries[key] = Entry(RepoRef("model", key.split(":")[1]), selected=True)
            await pilot.press("d")
            for _ in range(600):
                await pilot.pause(0.05)
                seen.update(r.state + ("+msg" if r.message else "") for r in app.downloads_pane.rows.values())
                await pilot.press("down")  # the UI keeps answering keys while downloads retry
                if not app.downloading:
                    break
            rows = {r.path: r for r in app.downloads_pane.rows.values()}
            assert rows["big.bin"].state == "done"
            assert rows["weights/model.safetensors"].state == "done"
            assert rows["config.json"].state == "failed" and "HTTP 500" in (rows["config.json"].message or "")
            assert rows["state_dict.bin"].state == "done"
            await pilot.press("q")

    asyncio.run(go())
    assert "downloading+msg" in seen  # a retry was on screen
    assert (repo_dir(tmp_path, *BIG) / "big.bin").stat().st_size == BIG_SIZE
