"""``musicgen-tui demo`` runs the whole workflow offline against the local Hub's stand-ins, paced to be watched."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import httpx2
import pytest
from conftest import bin_path, run_bin

from cli.main import main
from core.catalog import catalog
from localhub.demo import DEMO_LIMIT, FLAKY, FLAKY_AFTER, demo_hub, demo_standins
from localhub.standins import catalog_standins

CHUNK = 64 * 1024  # the local Hub's body chunk: a paced body's last chunk goes out without a wait after it


def test_standins_cover_the_catalog() -> None:
    assert [(r.repo_type, r.repo_id) for r in catalog_standins(everything=True)] == \
        [(r.repo_type, r.repo_id) for r in catalog()]
    standins = catalog_standins()  # shaped like the public Hub: the six seed ids it lacks are absent
    assert {r.repo_id for r in catalog_standins(everything=True)} - {r.repo_id for r in standins} == {
        "facebook/demucs", "magenta/nsynth", "ionosphere/maestro", "freesound/audio-tagging", "polyfloyd/fma",
        "muso-ai/musicnet"}
    small = next(r for r in standins if r.repo_id == "facebook/musicgen-small")
    names = {f.path for f in small.files}
    assert {"state_dict.bin", "compression_state_dict.bin", "model.safetensors", "pytorch_model.bin",
            "config.json", "spiece.model", "tokenizer.json"} <= names
    stereo = next(r for r in standins if r.repo_id == "facebook/musicgen-stereo-small")
    assert stereo.get("compression_state_dict.bin").size == 589  # type: ignore[union-attr]


def test_demo_end_to_end(tmp_path: Path) -> None:
    """The headless demo tells the app's story: planning, the retry of the file that breaks off, totals with a
    rate and an ETA, then inventories, checksums and a clean verify; a workspace given with --root is kept."""
    p = run_bin([bin_path("musicgen-tui"), "demo", "--headless", "--root", str(tmp_path)], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 mismatch, 0 missing, 0 partial" in p.stdout
    assert "nsynth-test.jsonwav.tar.gz: the publisher gives no checksum" in p.stdout  # an off-Hub id, said plainly
    assert "extract magenta/nsynth/nsynth-test.jsonwav.tar.gz" in p.stderr
    assert re.search(rf"^retry   facebook/musicgen-[a-z-]+/{FLAKY}: retrying \(attempt 2 of 6\): .*reset",
                     p.stderr, re.M), p.stderr
    totals = re.findall(r"^\[.* / .*, .*/s, ETA (\S+)\] \d+ done", p.stderr, re.M)
    assert len(totals) >= 3 and len(set(totals)) >= 2, p.stderr  # a line a second, and the ETA moves
    assert p.stdout.rstrip().endswith(f"demo workspace: {tmp_path}")
    combined = json.loads((tmp_path / "inventory" / "combined_inventory.json").read_text())
    assert combined["totals"]["all"]["repos"] == 7  # with T5, which the full profile's audiocraft files reach
    nsynth = tmp_path / "datasets" / "magenta_nsynth"
    assert (nsynth / "nsynth-test.jsonwav" / "nsynth-test" / "examples.json").is_file()
    assert (tmp_path / "datasets" / "google_MusicCaps" / "musiccaps-public.csv").is_file()
    assert all(r["complete"] for r in combined["repos"])
    assert (tmp_path / "models" / "facebook" / "facebook_musicgen-small" / "state_dict.bin").is_file()


def test_demo_hub_is_big_enough_to_watch_and_light_on_disk() -> None:
    """The demo's pacing, from its sizes and its cap: a model takes seconds, GTZAN's clips keep eight connections
    busy for seconds, and every repo ticked at once still fits in 200 MB (held in far less memory)."""
    repos = {r.repo_id: r for r in demo_standins()}
    files = [f for r in repos.values() for f in r.files]
    assert 100e6 < sum(f.size for f in files) < 200e6
    assert sum(len(f.data or b"") + len(f.tiled.block if f.tiled else b"") for f in files) < 50e6
    small = repos["facebook/musicgen-small"]
    assert max(f.size for f in small.files) / DEMO_LIMIT >= 4  # seconds its biggest file takes
    assert small.get(FLAKY).size > 2 * FLAKY_AFTER  # type: ignore[union-attr]  # it breaks off partway
    clips = [f for f in repos["marsyas/gtzan"].files if f.path.endswith(".wav")]
    assert len(clips) == 100 and min(f.size for f in clips) / DEMO_LIMIT >= 0.3
    assert sum(f.size for f in clips) / (8 * DEMO_LIMIT) >= 3  # eight at a time, the queue moves for seconds


def test_demo_hub_caps_each_connection() -> None:
    """The cap itself, measured on the Hub (not the app): a body never arrives faster than DEMO_LIMIT."""
    size = 300_000
    with demo_hub() as hub:
        want = hub.repos[("model", "facebook/musicgen-small")].get("model.safetensors").read(0, size)  # type: ignore[union-attr]
        began = time.monotonic()
        r = httpx2.get(f"{hub.url}/facebook/musicgen-small/resolve/main/model.safetensors",
                       headers={"Range": f"bytes=0-{size - 1}"}, follow_redirects=True)
        took = time.monotonic() - began
    assert r.status_code == 206 and r.content == want
    assert took >= (size - CHUNK) / DEMO_LIMIT


def test_demo_flaky_file_breaks_off_once_and_resumes(tmp_path: Path) -> None:
    """The demo's one fault: the first state_dict.bin breaks off partway, is retried, and resumes from what
    arrived; every event of the retry says so (the app's row reads "retrying" until the file is done)."""
    from core.hub.download import Downloader
    from core.hub.planner import Choice, make_plan
    from core.repos import RepoRef
    from core.results import FileEvent
    from core.settings import Settings
    from core.states import FileState

    events: list[FileEvent] = []
    with demo_hub() as hub:
        settings = Settings(root=tmp_path, endpoint=hub.url, min_free=0)
        plan = make_plan(settings, [RepoRef("model", "facebook/musicgen-small")], Choice(include=(FLAKY,)),
                         dependencies=False)
        result = Downloader(settings, events.append).run(plan)
    flaky = hub.repos[("model", "facebook/musicgen-small")].get(FLAKY)
    assert flaky is not None and result.ok
    assert (tmp_path / "models" / "facebook" / "facebook_musicgen-small" / FLAKY).read_bytes() == flaky.read()
    noted = [e for e in events if e.message]
    assert noted[0].message is not None and noted[0].message.startswith("retrying (attempt 2 of 6): ")
    assert "reset" in noted[0].message and FLAKY_AFTER * 0.9 <= noted[0].done <= FLAKY_AFTER
    resumed = [e for e in events if e.state is FileState.DOWNLOADING and e.done > FLAKY_AFTER]
    assert resumed and all(e.message == noted[0].message for e in resumed)
    assert hub.stats.bytes_served[FLAKY] <= 1.05 * flaky.size  # resumed, not started over


def test_demo_removes_its_temporary_workspace_unless_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from cli.commands import demo, download

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for var in ("HF_ENDPOINT", "MUSICGEN_ROOT", "MUSICGEN_MIN_FREE", "HF_TOKEN"):
        monkeypatch.setenv(var, "")  # the demo sets them: restored after the test
    monkeypatch.setattr(demo, "STEPS", [(download, ["--dataset", "google/musiccaps", "--run"])])
    assert main(["demo", "--headless"]) == 0
    out = capsys.readouterr().out
    assert "(removed when the demo ends; --keep keeps it)" in out
    (gone,) = re.findall(r"^demo workspace: (\S+) removed \(musicgen-tui demo --keep keeps it\)$", out, re.M)
    assert Path(gone).parent == tmp_path and not Path(gone).exists()
    assert main(["demo", "--headless", "--keep"]) == 0
    out = capsys.readouterr().out
    kept = Path(out.rstrip().splitlines()[-1].removeprefix("demo workspace: "))
    assert kept.parent == tmp_path and (kept / "datasets" / "google_MusicCaps" / "musiccaps-public.csv").is_file()
