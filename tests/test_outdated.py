"""``outdated``: a repo whose main moved is named behind with the right counts; the others stay current; a repo
the endpoint dropped is gone; an endpoint that cannot be asked is said per repo, and the exit code says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import point_at

from cli.main import main
from localhub import Fault, HubFile, HubRepo, HubStats, LocalHub

MOVING, STILL = "acme/moving", "acme/still"


def moving(version: int) -> HubRepo:
    files = [HubFile("config.json", b'{"v": 1}\n'), HubFile("weights.bin", b"w" * 30_000, lfs=True),
             HubFile("notes/b.txt", f"b {version}\n".encode())]
    files += [HubFile("notes/c.txt", b"c\n")] if version == 1 else [HubFile("notes/d.txt", b"d" * 700)]
    return HubRepo(MOVING, "model", files)


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    with LocalHub([moving(1), HubRepo(STILL, "dataset", [HubFile("data.csv", b"a,b\n1,2\n")])]) as hub:
        yield hub


@pytest.fixture
def ws(tmp_path: Path, hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = point_at(hub, tmp_path, monkeypatch)
    monkeypatch.setenv("MUSICGEN_RETRIES", "1")
    assert main(["download", "--model", MOVING, "--dataset", STILL, "--run", "--root", str(root)]) == 0
    return root


def outdated(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    import json

    capsys.readouterr()
    code = main(["outdated", "--json", *args, "--root", str(ws)])
    return code, json.loads(capsys.readouterr().out)


def test_a_repo_whose_main_moved_is_behind_with_its_counts(ws: Path, hub: LocalHub,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = outdated(ws, capsys)
    assert code == 0 and [r["status"] for r in doc["repos"]] == ["current", "current"]
    old = hub.repos[("model", MOVING.lower())].commit
    hub.add(moving(2))  # b.txt changed, c.txt removed, d.txt added
    hub.stats = HubStats()
    code, doc = outdated(ws, capsys)
    assert code == 1
    rows = {r["repo_id"]: r for r in doc["repos"]}
    assert set(rows[MOVING]) == {"repo_id", "repo_type", "status", "local_revision", "remote_revision", "changed",
                                 "added", "removed", "bytes_to_fetch", "reason"}
    assert {k: rows[MOVING][k] for k in ("status", "local_revision", "remote_revision", "changed", "added",
                                         "removed", "bytes_to_fetch")} == {
        "status": "behind", "local_revision": old, "remote_revision": hub.repos[("model", MOVING.lower())].commit,
        "changed": 1, "added": 1, "removed": 1, "bytes_to_fetch": len(b"b 2\n") + 700}
    assert rows[STILL]["status"] == "current"
    # cheap: one small call for the current repo; the behind one lists its new tree too. No file is fetched.
    assert hub.stats.requests["info"] == 3 and hub.stats.requests["tree"] == 1
    assert not hub.stats.bytes_served


def test_gone_and_unknown_are_said_per_repo(ws: Path, hub: LocalHub, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    del hub.repos[("dataset", STILL)]
    code, doc = outdated(ws, capsys, "--dataset", STILL)
    assert code == 1 and doc["repos"][0]["status"] == "gone" and "any more" in doc["repos"][0]["reason"]
    hub.inject(Fault("status", "*", times=100, status=503, at="api"))
    code, doc = outdated(ws, capsys, "--model", MOVING)
    assert code == 2 and doc["repos"][0]["status"] == "unknown" and "503" in doc["repos"][0]["reason"]
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    capsys.readouterr()
    assert main(["outdated", "--root", str(ws)]) == 2
    out = capsys.readouterr().out
    assert "unknown" in out and "Traceback" not in out


def test_an_update_fetches_what_changed_drops_what_the_hub_dropped_and_is_never_a_complete_mixture(
        ws: Path, hub: LocalHub, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    folder = ws / "models" / "acme" / "acme_moving"
    (folder / "mine.txt").write_text("a file the user put here\n")
    assert main(["checksums", "--min-size", "0", "--root", str(ws)]) == 0
    assert main(["inventory", "--root", str(ws)]) == 0
    hub.add(moving(2))
    new = hub.repos[("model", MOVING.lower())].commit
    # the update breaks off: d.txt cannot be fetched
    hub.inject(Fault("status", "notes/d.txt", times=100, status=500))
    assert main(["download", "--model", MOVING, "--run", "--root", str(ws)]) == 1
    hub.clear_faults()
    assert (folder / "notes" / "c.txt").is_file()  # the old snapshot's file stays until the new one is whole
    capsys.readouterr()
    assert main(["inventory", "--json", "--root", str(ws)]) == 0
    rows = {r["repo_id"]: r for r in json.loads(capsys.readouterr().out)["repos"]}
    assert rows[MOVING]["complete"] is False  # a mixture of two snapshots is never called complete
    hub.stats = HubStats()
    assert main(["download", "--model", MOVING, "--run", "--root", str(ws)]) == 0
    assert dict(hub.stats.bytes_served) == {"notes/d.txt": 700}  # only what was still missing
    assert not (folder / "notes" / "c.txt").exists() and (folder / "notes" / "d.txt").read_bytes() == b"d" * 700
    assert (folder / "notes" / "b.txt").read_text() == "b 2\n" and (folder / "mine.txt").is_file()
    capsys.readouterr()
    assert main(["inventory", "--json", "--root", str(ws)]) == 0
    rows = {r["repo_id"]: r for r in json.loads(capsys.readouterr().out)["repos"]}
    assert rows[MOVING]["complete"] is True and rows[MOVING]["snapshot_id"] == new
    capsys.readouterr()
    # the exports follow the update: the checksum file's lines (a dropped file's gone, a changed one's new) and the
    # inventories (written before, made again with the new commit)
    sums = (ws / "models" / "checksums.sha256").read_text()
    assert "notes/c.txt" not in sums and "notes/d.txt" in sums and "mine.txt" in sums
    written = json.loads((ws / "inventory" / "combined_inventory.json").read_text())
    assert {r["repo_id"]: r["snapshot_id"] for r in written["repos"]}[MOVING] == new
    assert main(["verify", "--json", "--root", str(ws)]) == 0  # the user's file is said, never a problem...
    report = json.loads(capsys.readouterr().out)
    assert report["extra"] == [{"repo_id": MOVING, "repo_type": "model", "path": "mine.txt"}]
    assert report["counts"]["extra"] == 1 and report["problems"] == []
    assert main(["verify", "--strict", "--root", str(ws)]) == 1  # ...unless asked
    assert "EXTRA    acme/moving: mine.txt" in capsys.readouterr().out
    assert outdated(ws, capsys)[1]["repos"][0]["status"] == "current"
