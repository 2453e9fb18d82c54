"""Snapshots of each pane at 80×24 and 120×40, fed fixed data (no Hub, no disk, frozen rates and times)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from core.local.compare import plan_files
from core.local.inventory import LocalRepo
from core.local.verify import FileCheck, VerifyResult
from core.local.walk import FileTable
from core.plan import PlannedFiles, RepoPlan
from core.remote import Listing, RemoteFile
from core.repos import RepoRef
from core.results import FileEvent
from core.settings import Settings
from core.states import CheckStatus, FileState, RepoStatus
from localhub.standins import standin
from tui.app import MusicgenApp, make_app
from tui.messages import (
    DownloadProgress,
    LocalScanned,
    RepoPlanned,
    VerifyFinished,
    VerifyProgress,
    VerifyQueued,
)

ROOT = Path("/tmp/musicgen-tui-snap")
SIZES = [(80, 24), (120, 40)]
GiB = 1 << 30


def fixed_app() -> MusicgenApp:
    settings = Settings(root=ROOT, endpoint="http://127.0.0.1:8080")
    return make_app(settings, background=False, disk_free=lambda _p: 80 * GiB)


def repo_plan(ref: RepoRef) -> RepoPlan:
    hub_repo = standin(ref.repo_type, ref.repo_id)
    files = sorted((RemoteFile(f.path, f.size, f.blob_id, f.sha256 if f.is_lfs else None) for f in hub_repo.files),
                   key=lambda f: f.path)
    rp = RepoPlan(ref, ref.local_dir(ROOT), listing=Listing(ref, hub_repo.commit, files))
    rp.files = plan_files(rp.local_dir, files)
    if ref.repo_id == "facebook/musicgen-medium":
        rp.fail(RepoStatus.GATED, "gated repo: needs a token").files = PlannedFiles()
    return rp


async def planned(pilot: Pilot[int]) -> None:
    app = pilot.app
    assert isinstance(app, MusicgenApp)
    for e in list(app.entries.values()):
        app.post_message(RepoPlanned(repo_plan(e.ref)))
    await pilot.pause()
    await pilot.press("space", "down", "down", "space")


def ev(repo: str, path: str, state: FileState, done: int, total: int, rate: float = 0.0, msg: str | None = None
       ) -> FileEvent:
    return FileEvent(repo, "model", path, state, done, total, rate, msg)


async def downloading(pilot: Pilot[int]) -> None:
    await planned(pilot)
    await pilot.press("2")
    small, large = "facebook/musicgen-small", "facebook/musicgen-large"
    pilot.app.post_message(DownloadProgress([
        ev(small, "state_dict.bin", FileState.DOWNLOADING, 420_000_000, 841_000_000, 12.5 * (1 << 20)),
        ev(small, "model.safetensors", FileState.DOWNLOADING, 1_000_000_000, 2_360_000_000, 9.0 * (1 << 20)),
        ev(small, "config.json", FileState.DONE, 7_800, 7_800),
        ev(small, "compression_state_dict.bin", FileState.DONE, 236_000_000, 236_000_000),
        ev(small, "pytorch_model.bin", FileState.QUEUED, 0, 2_360_000_000),
        ev(small, "tokenizer.json", FileState.DOWNLOADING, 0, 2_420_000, 0.0, "retrying: HTTP 503"),
    ]))
    await pilot.pause()
    assert isinstance(pilot.app, MusicgenApp)
    pilot.app.downloads_pane.add_repo_errors([(large, "model", "repo not found on this endpoint")])
    await pilot.pause()


def local(repo_id: str, repo_type: str, files: list[tuple[str, int]], complete: bool) -> LocalRepo:
    ref = RepoRef(repo_type, repo_id)  # type: ignore[arg-type]
    return LocalRepo(repo_id, repo_type, ref.relpath(), ref.local_dir(ROOT),  # type: ignore[arg-type]
                     "0123456789abcdef0123456789abcdef01234567", sum(s for _, s in files), len(files), complete,
                     FileTable.from_pairs(files),
                     "# GTZAN\n\n1,000 audio tracks, 30 s each, 10 genres." if repo_type == "dataset" else None)


async def inventory(pilot: Pilot[int]) -> None:
    await pilot.press("3")
    pilot.app.post_message(LocalScanned([
        local("facebook/musicgen-small", "model", [("state_dict.bin", 841_000_000), ("config.json", 7_800),
                                                    ("compression_state_dict.bin", 236_000_000)], True),
        local("facebook/encodec_32khz", "model", [("model.safetensors", 236_000_000)], False),
        local("marsyas/gtzan", "dataset", [("data/genres.tar.gz", 1_230_000_000), ("gtzan.py", 4_000),
                                           ("README.md", 2_000)], True),
    ]))
    await pilot.pause()


async def verifying(pilot: Pilot[int]) -> None:
    await pilot.press("4")
    app = pilot.app
    repo = "facebook/musicgen-small"
    names = ["README.md", "config.json", "state_dict.bin", "model.safetensors", "tokenizer.json"]
    app.post_message(VerifyQueued([(repo, "model", n) for n in names]))
    checks = [FileCheck(CheckStatus.OK, repo, "model", n) for n in names if n != "state_dict.bin"]
    checks.append(FileCheck(CheckStatus.MISMATCH, repo, "model", "state_dict.bin",
                            "sha256 1f2e3d4c5b6a…, the Hub says 9a8b…"))
    checks.append(FileCheck(CheckStatus.MISSING, "facebook/encodec_32khz", "model", "model.safetensors", "not on disk"))
    app.post_message(VerifyProgress(checks))
    result = VerifyResult(generated_at="2026-01-01T00:00:00Z")
    for c in checks:
        result.add(c)
    result.repos.update(("model", c.repo_id) for c in checks)
    app.post_message(VerifyFinished(result, ROOT / "inventory" / "verify_report.json"))
    await pilot.pause()


async def helping(pilot: Pilot[int]) -> None:
    await pilot.press("question_mark")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scene", [planned, downloading, inventory, verifying, helping],
                         ids=["select", "downloads", "inventory", "verify", "help"])
def test_pane(snap_compare, scene, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(), terminal_size=size, run_before=scene)
