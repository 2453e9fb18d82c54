"""``rm`` and ``prune``: what goes and the bytes it frees are said first (a dry run frees nothing), a hard link is
counted once, the inventories, checksum files and views forget a removed repo, a repo being downloaded is
refused, a dependency still needed is named, and an abandoned partial is pruned with its bytes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import eventually, point_at, repo_dir

from cli.main import main
from core.runtime.views import HF_HUB_CACHE
from core.service import client as service
from localhub import Fault, LocalHub
from localhub.standins import standin


def blocks(*folders: Path) -> int:
    """Bytes on disk of the files below ``folders``, each inode once."""
    seen: dict[tuple[int, int], int] = {}
    for folder in folders:
        for top, _dirs, names in os.walk(folder):
            for n in names:
                st = os.lstat(os.path.join(top, n))
                seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values())


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_rm_says_what_it_frees_then_frees_it_and_the_exports_forget_the_repo(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = ["--root", str(root)]
    assert main(["download", "--model", "acme/tiny-model", "--model", "acme/big-file", "--run", *r]) == 0
    assert main(["inventory", *r]) == 0 and main(["checksums", "--min-size", "0", *r]) == 0
    folder = repo_dir(root, "model", "acme/tiny-model")
    view = root / HF_HUB_CACHE / "models--acme--tiny-model"
    assert view.is_dir()  # its hard links: the bytes are freed only when they go too, and counted once
    on_disk = blocks(folder, view)  # the view's links are the folder's files: counted once
    code, doc = cli_json(capsys, "rm", "--model", "acme/tiny-model", "--dry-run", *r)
    assert code == 0 and doc["dry_run"] and doc["bytes_freed"] == on_disk == doc["items"][0]["bytes_freed"]
    assert folder.is_dir() and view.is_dir()  # a dry run frees nothing
    capsys.readouterr()
    assert main(["rm", "--model", "acme/tiny-model", *r]) == 2  # no terminal to ask in, no --yes
    assert "pass --yes" in capsys.readouterr().err and folder.is_dir()
    code, doc = cli_json(capsys, "rm", "--model", "acme/tiny-model", "--yes", *r)
    assert code == 0 and doc["items"][0]["removed"] and doc["bytes_freed"] == on_disk
    assert not folder.exists() and not view.exists()
    combined = json.loads((root / "inventory" / "combined_inventory.json").read_text())
    assert [x["repo_id"] for x in combined["repos"]] == ["acme/big-file"]
    sums = (root / "models" / "checksums.sha256").read_text()
    assert "tiny-model" not in sums and "big-file" in sums
    assert main(["verify", *r]) == 0
    code, doc = cli_json(capsys, "rm", "--model", "acme/tiny-model", "--yes", *r)
    assert doc["items"][0]["reason"] == "not downloaded here" and doc["bytes_freed"] == 0


def test_rm_of_a_repo_being_downloaded_is_refused(svc_root: Path, hub: LocalHub,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from core.repos import RepoRef
    from core.service.requests import Cancel, Submit
    from core.settings import load_settings

    hub.inject(Fault("slow", "big.bin", times=1000, delay=0.2))
    settings = load_settings(svc_root)
    with service.ensure(svc_root, settings) as client:
        client.submit(Submit((RepoRef("model", "acme/big-file"),)), settings)
    eventually(lambda: repo_dir(svc_root, "model", "acme/big-file").is_dir())
    capsys.readouterr()
    assert main(["rm", "--model", "acme/big-file", "--yes", "--root", str(svc_root)]) == 2
    err = capsys.readouterr().err
    assert "acme/big-file is being downloaded by this root's service: cancel it first" in err, err
    assert repo_dir(svc_root, "model", "acme/big-file").is_dir()
    with service.ensure(svc_root, settings) as client:
        client.request(Cancel())
    hub.clear_faults()


def test_prune_removes_an_abandoned_partial_and_says_its_bytes(root: Path, hub: LocalHub,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    r = ["--root", str(root)]
    monkeypatch.setenv("MUSICGEN_RETRIES", "1")
    monkeypatch.setenv("MUSICGEN_CONNECTIONS", "1")
    hub.inject(Fault("reset", "big.bin", after_bytes=1_000_000))
    assert main(["download", "--model", "acme/big-file", "--run", *r]) == 1
    partials = list(repo_dir(root, "model", "acme/big-file").rglob("*.incomplete"))
    assert len(partials) == 1
    size = partials[0].stat().st_blocks * 512
    code, doc = cli_json(capsys, "prune", "--dry-run", *r)
    assert code == 0 and doc["bytes_freed"] == size > 0 and partials[0].exists()
    assert [i["why"] for i in doc["items"]] == ["partial download"]
    code, doc = cli_json(capsys, "prune", "--yes", *r)
    assert code == 0 and doc["bytes_freed"] == size and not partials[0].exists()
    code, doc = cli_json(capsys, "prune", "--dry-run", *r)
    assert doc["items"] == [] and doc["bytes_freed"] == 0


@pytest.fixture
def codec_hub() -> Iterator[LocalHub]:
    with LocalHub([standin("model", "facebook/musicgen-stereo-small"), standin("model", "facebook/encodec_32khz"),
                   standin("model", "google-t5/t5-base")]) as hub:
        yield hub


def test_a_dependency_still_needed_is_named_and_removed_only_when_named(
        tmp_path: Path, codec_hub: LocalHub, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = point_at(codec_hub, tmp_path, monkeypatch)
    r = ["--root", str(root)]
    assert main(["download", "--model", "facebook/musicgen-stereo-small", "--profile", "audiocraft", "--run", *r]) == 0
    code, doc = cli_json(capsys, "rm", "--model", "facebook/musicgen-stereo-small", "--yes", *r)
    assert code == 0 and doc["items"][0]["removed"]
    assert repo_dir(root, "model", "facebook/encodec_32khz").is_dir()  # a dependency is never removed unnamed
    assert main(["download", "--model", "facebook/musicgen-stereo-small", "--profile", "audiocraft", "--run", *r]) == 0
    code, doc = cli_json(capsys, "rm", "--model", "facebook/encodec_32khz", "--dry-run", *r)
    assert doc["items"][0]["needed_by"] == ["facebook/musicgen-stereo-small"]
    capsys.readouterr()
    assert main(["rm", "--model", "facebook/encodec_32khz", "--yes", *r]) == 0
    assert "still needed by facebook/musicgen-stereo-small" in capsys.readouterr().out
    assert not repo_dir(root, "model", "facebook/encodec_32khz").exists()


def test_the_app_shows_behind_updates_with_u_and_removes_with_x_after_saying_what_it_frees(
        tmp_path: Path, catalog_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repo whose main moved reads ``behind`` in the Select pane; ticked, ``u`` fetches only the new file; ``x``
    says the bytes removing it frees, and ``y`` removes it: the Inventory pane forgets it at once."""
    import asyncio

    from test_tui_pilot import SIZE, app_for, until

    from localhub import HubFile

    codec = "facebook/encodec_24khz"
    key = f"model:{codec}"
    root = point_at(catalog_hub, tmp_path, monkeypatch)
    assert main(["download", "--model", codec, "--run", "--root", str(root)]) == 0
    before = catalog_hub.repos[("model", codec)]
    moved = standin("model", codec)
    moved.files.append(HubFile("NOTICE.txt", b"moved\n" * 100))
    catalog_hub.add(moved)
    catalog_hub.stats.bytes_served.clear()
    try:
        async def go() -> None:
            app = app_for(root, catalog_hub)
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.entries[key].plan is not None and app.entries[key].behind)
                row = app.select_pane.table.get_row(key)
                assert str(row[3]) == "behind"
                app.select_pane.move_to(key)
                await pilot.press("space", "u")
                await until(pilot, lambda: not app.downloading and not app.entries[key].behind, timeout=60)
                assert dict(catalog_hub.stats.bytes_served) == {"NOTICE.txt": 600}  # only what changed
                await pilot.press("3")
                await until(pilot, lambda: codec in {r.repo_id for r in app.inventory_pane.repos.values()})
                table = app.inventory_pane.table
                table.move_cursor(row=table.get_row_index(repo_dir(root, "model", codec).relative_to(root)
                                                          .as_posix()))
                await pilot.press("x")
                await until(pilot, lambda: app.screen.query("#confirm-text"))
                text = str(app.screen.query_one("#confirm-text").render())
                assert f"Remove {codec}?" in text and "frees" in text
                assert repo_dir(root, "model", codec).is_dir()  # asked first: nothing gone yet
                await pilot.press("y")
                await until(pilot, lambda: not repo_dir(root, "model", codec).exists())
                await until(pilot, lambda: codec not in {r.repo_id for r in app.inventory_pane.repos.values()})

        asyncio.run(go())
    finally:
        catalog_hub.add(before)
        main(["stop", "--root", str(root)])


def test_rm_and_prune_never_go_through_a_planted_link(tmp_path: Path, root: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A neighbour's ``models/evil`` pointing at another folder: prune never walks it, rm never removes it."""
    elsewhere = tmp_path / "elsewhere"
    partial = elsewhere / "evil_x" / ".cache" / "huggingface" / "download" / "w.bin.incomplete"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"x" * 10_000)
    (elsewhere / "evil_x" / "keep.txt").write_text("mine\n")
    (root / "models").mkdir()
    (root / "models" / "evil").symlink_to(elsewhere)
    r = ["--root", str(root)]
    code, doc = cli_json(capsys, "prune", "--yes", *r)
    assert code == 0 and doc["items"] == [] and partial.exists()
    code, doc = cli_json(capsys, "rm", "--model", "evil/x", "--yes", *r)
    assert "symbolic link" in doc["items"][0]["reason"] and not doc["items"][0]["removed"]
    assert (elsewhere / "evil_x" / "keep.txt").is_file()
