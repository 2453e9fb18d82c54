"""``lock`` and ``verify --lock``: a root's exact set written from verified state only, and a root checked
against it with no network (missing, extra, mismatched files and wrong revisions named, exit 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import repo_dir

from cli.main import main

if TYPE_CHECKING:
    from localhub import LocalHub

SCHEMA = Path(__file__).resolve().parent.parent / "core" / "schemas" / "lock.schema.json"


def test_a_root_is_locked_and_checked_against_its_lock(root: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from jsonschema import validate

    r = ["--root", str(root)]
    assert main(["download", "--model", "acme/tiny-model", "--dataset", "acme/many-files", "--run", *r]) == 0
    capsys.readouterr()
    assert main(["lock", *r]) == 0
    assert "musicgen.lock: 2 repos" in capsys.readouterr().out
    lock = root / "musicgen.lock"
    doc = json.loads(lock.read_text())
    validate(doc, json.loads(SCHEMA.read_text()))
    repos = {x["repo_id"]: x for x in doc["repos"]}
    assert set(repos) == {"acme/tiny-model", "acme/many-files"}
    weights = next(f for f in repos["acme/tiny-model"]["files"] if f[0] == "weights/model.safetensors")
    assert weights[1] == 300_000 and len(weights[2]) == 64  # an LFS file: its sha256
    assert len(lock.read_text().splitlines()) > 2_500  # one file a line: diff-friendly
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # checking needs no network
    assert main(["verify", "--lock", str(lock), *r]) == 0
    assert "the root matches it" in capsys.readouterr().out

    # a lock that says another revision, another hash, a file the root lacks, and lacks one the root has
    tiny = repos["acme/tiny-model"]
    tiny["revision"] = "f" * 40
    tiny["files"] = [[p, s, ("0" * 64 if p == "weights/model.safetensors" else h)] for p, s, h in tiny["files"]
                     if p != "config.json"] + [["weights/extra.bin", 5, "1" * 64]]
    other = root.parent / "other.lock"
    other.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["verify", "--lock", str(other), "--json", *r]) == 1
    found = {(p["status"], p["path"]) for p in json.loads(capsys.readouterr().out)["lock"]["problems"]}
    assert found == {("wrong revision", ""), ("mismatch", "weights/model.safetensors"),
                     ("missing", "weights/extra.bin"), ("extra", "config.json")}


def test_a_root_with_problems_is_never_locked(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = ["--root", str(root)]
    assert main(["download", "--model", "acme/tiny-model", "--run", *r]) == 0
    weights = repo_dir(root, "model", "acme/tiny-model") / "weights" / "model.safetensors"
    with open(weights, "r+b") as f:
        f.write(b"\xff")  # one flipped byte: same size, another hash
    capsys.readouterr()
    assert main(["lock", *r]) == 1
    err = capsys.readouterr().err
    assert "weights/model.safetensors" in err and "no lock written" in err
    assert not (root / "musicgen.lock").exists()
    (root / "bad.lock").write_text("{not json")
    assert main(["verify", "--lock", str(root / "bad.lock"), *r]) == 2
    assert "not a lock file" in capsys.readouterr().err


def test_the_app_writes_the_lock_with_k_and_its_header_says_when_the_root_differs(
        root: Path, hub: LocalHub) -> None:
    """``k`` in the Inventory pane writes ``musicgen.lock`` through the root's one writer; the header then says the
    root matches it, and once the lock and the root part, that they differ; a root with a problem gets no lock."""
    import asyncio

    from test_tui_pilot import SIZE, app_for, until

    assert main(["download", "--model", "acme/tiny-model", "--run", "--root", str(root)]) == 0
    lock = root / "musicgen.lock"

    def header(app: Any) -> str:
        return str(app.query_one("#status-bar").render())

    try:
        async def go() -> None:
            app = app_for(root, hub)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("3", "k")
                await until(pilot, lambda: lock.is_file() and "matches musicgen.lock" in header(app), timeout=60)
                doc = json.loads(lock.read_text())
                doc["repos"][0]["revision"] = "f" * 40
                lock.write_text(json.dumps(doc))
                app.scan_local()
                await until(pilot, lambda: "differs from musicgen.lock: 1 difference" in header(app))
                weights = repo_dir(root, "model", "acme/tiny-model") / "weights" / "model.safetensors"
                with open(weights, "r+b") as f:
                    f.write(b"\xff")
                await pilot.press("k")
                await until(pilot, lambda: any("No lock written" in str(n.message) for n in app._notifications))
                assert json.loads(lock.read_text())["repos"][0]["revision"] == "f" * 40  # left as it was

        asyncio.run(go())
    finally:
        main(["stop", "--root", str(root)])


def test_a_lock_planted_as_a_link_or_a_fifo_is_refused_never_read(tmp_path: Path) -> None:
    import os

    from core.workspace.lockfile import LockError, read_lock

    (real := tmp_path / "real.lock").write_text('{"version": 1, "repos": []}')
    (link := tmp_path / "link.lock").symlink_to(real)
    assert read_lock(link) == []  # a lock the user names may be a link
    with pytest.raises(LockError, match="a symbolic link"):
        read_lock(link, follow=False)  # the root's own, as the app reads it: never through a link
    os.mkfifo(fifo := tmp_path / "fifo.lock")
    with pytest.raises(LockError, match="not a regular file"):
        read_lock(fifo)  # and no hang waiting for a writer
