"""The workspace loads MusicGen offline, with the real loaders: tiny random MusicGen (mono, stereo, melody), T5
and EnCodec repos built with transformers' own classes, served by the local Hub under the real ids, downloaded
with each profile; then, with the Hub gone and offline mode on, loaded by id (after ``eval "$(musicgen-tui
env)"``) and by path, audiocraft's four loads made as its source makes them, and ``smoke`` run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import point_at
from tinymodels import CODEC, FAMILIES, T5

from cli.main import main
from core.runtime.views import HF_HUB_CACHE, TORCH_HOME
from localhub import HubRepo, LocalHub

DEAD = "http://127.0.0.1:9"  # nothing listens here: the Hub is gone
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHub]:
    """The tiny repos, built in a child process: torch never loads into the test process (whose memory and
    objects other tests measure)."""
    out = tmp_path_factory.mktemp("tiny")
    made = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                           f"import tinymodels, pathlib; tinymodels.build(pathlib.Path({str(out)!r}))"],
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    folders = {rid: out / rid for rid in (*FAMILIES, CODEC, T5)}
    with LocalHub([HubRepo.from_folder(rid, f) for rid, f in folders.items()]) as hub:
        yield hub


@pytest.fixture
def ws(tmp_path: Path, tiny_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    return point_at(tiny_hub, tmp_path, monkeypatch)


def run(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*args, "--root", str(ws)])
    out = capsys.readouterr()
    return code, out.out + out.err


def offline_env(ws: Path) -> dict[str, str]:
    """The user's shell after ``eval "$(musicgen-tui env)"``, the Hub gone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TORCH_HOME", "TRANSFORMERS_"))}
    env["HF_ENDPOINT"] = DEAD
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def in_shell(ws: Path, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by python in bash, after ``eval "$(musicgen-tui env --root WS)"``."""
    line = f'eval "$(musicgen-tui env --root {ws})" && exec {sys.executable} -c "$SCRIPT"'
    return subprocess.run(["bash", "-c", line], env={**offline_env(ws), "SCRIPT": script}, capture_output=True,
                          text=True, timeout=600)


BY_ID_AND_PATH = """
import os, sys
from transformers import AutoProcessor, AutoTokenizer, MusicgenForConditionalGeneration as M, \\
    MusicgenMelodyForConditionalGeneration as MM
assert os.environ["HF_HUB_OFFLINE"] == "1"
for repo, path in [(r, p) for r, p in (a.split("=") for a in sys.argv[1:] or %r)]:
    cls = MM if "melody" in repo else M
    for name in (repo, path):
        model = cls.from_pretrained(name)
        try:
            proc = AutoProcessor.from_pretrained(name)
        except ImportError:  # the melody feature extractor needs torchaudio, which has no build for this torch
            proc = AutoTokenizer.from_pretrained(name)
        audio = model.generate(**proc(text=["lo-fi"], padding=True, return_tensors="pt"), max_new_tokens=3)
        print("loaded", name, tuple(audio.shape))
"""

AUDIOCRAFT = """
import torch
from huggingface_hub import hf_hub_download
from transformers import EncodecModel, T5EncoderModel, T5Tokenizer
for repo in %r:
    # audiocraft/models/loaders.py: _get_state_dict(repo, filename) -> hf_hub_download + torch.load
    lm = torch.load(hf_hub_download(repo_id=repo, filename="state_dict.bin", library_name="audiocraft"),
                    map_location="cpu", weights_only=False)
    pkg = torch.load(hf_hub_download(repo_id=repo, filename="compression_state_dict.bin",
                                     library_name="audiocraft"), map_location="cpu", weights_only=False)
    if "pretrained" in pkg:  # CompressionModel.get_pretrained -> HFEncodecCompressionModel
        EncodecModel.from_pretrained(pkg["pretrained"])
        print("codec", repo, pkg["pretrained"])
    # audiocraft/modules/conditioners.py: T5Conditioner, by the legacy name
    T5Tokenizer.from_pretrained("t5-base")
    T5EncoderModel.from_pretrained("t5-base")
    if "melody" in repo:  # demucs.pretrained.get_model("htdemucs") -> torch.hub, from $TORCH_HOME
        url = "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/955717e8-8726e21a.th"
        print("demucs", torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True)["klass"])
    print("loaded", repo, sorted(lm)[:1])
"""


@pytest.mark.parametrize("profile", ["transformers", "audiocraft", "full"])
def test_each_family_loads_offline_in_each_profile(ws: Path, profile: str, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, tiny_hub: LocalHub) -> None:
    args = [a for repo in FAMILIES for a in ("--model", repo)]
    code, out = run(ws, capsys, "download", *args, "--profile", profile, "--run")
    assert code == 0, out
    hub = ws / HF_HUB_CACHE
    names = {p.name for p in hub.iterdir()}
    assert {"models--facebook--musicgen-small", "models--facebook--musicgen-stereo-small",
            "models--facebook--musicgen-melody"} <= names
    loaders = ["transformers", "audiocraft"] if profile == "full" else [profile]  # full holds both loaders' files
    if "audiocraft" in loaders:  # the closure: T5 under both names, the codec, demucs under TORCH_HOME
        assert {"models--google-t5--t5-base", "models--t5-base", "models--facebook--encodec_32khz"} <= names
        assert (ws / TORCH_HOME / "hub/checkpoints/955717e8-8726e21a.th").is_file()
        t5 = sorted(p.name for p in (hub / "models--t5-base/snapshots").iterdir())
        assert len(t5) == 1 and not (hub / f"models--t5-base/snapshots/{t5[0]}/tf_model.h5").exists()
    else:
        assert not {n for n in names if "t5" in n or "encodec" in n}
    # huggingface_hub's own tools read the view: ls lists it, verify (against the Hub, still up) passes
    listed = subprocess.run([str(BIN / "hf"), "cache", "ls", "--cache-dir", str(hub)], capture_output=True,
                            text=True, env={**os.environ, "HF_ENDPOINT": tiny_hub.url})
    assert listed.returncode == 0 and "facebook/musicgen-small" in listed.stdout, listed.stdout + listed.stderr
    for repo in FAMILIES:
        checked = subprocess.run([str(BIN / "hf"), "cache", "verify", repo, "--cache-dir", str(hub)],
                                 capture_output=True, text=True, env={**os.environ, "HF_ENDPOINT": tiny_hub.url})
        assert checked.returncode == 0 and "All checksums match" in checked.stdout, checked.stdout + checked.stderr

    # the Hub is gone from here on
    monkeypatch.setenv("HF_ENDPOINT", DEAD)
    if "transformers" in loaders:
        pairs = [f"{r}={ws / 'models' / r.split('/')[0] / r.replace('/', '_')}" for r in FAMILIES]
        done = in_shell(ws, BY_ID_AND_PATH % (pairs,))
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.count("loaded") == 2 * len(FAMILIES)
    if "audiocraft" in loaders:
        done = in_shell(ws, AUDIOCRAFT % (list(FAMILIES),))
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.count("loaded") == len(FAMILIES)
        assert f"codec facebook/musicgen-stereo-small {CODEC}" in done.stdout
        assert "demucs demucs.htdemucs.HTDemucs" in done.stdout
    code, out = run(ws, capsys, "smoke", "--json", "--report", str(ws.parent / "smoke.json"))
    report = json.loads((ws.parent / "smoke.json").read_text())
    assert code == 0 and report["ok"], out
    loads = {(c["repo_id"], c["check"]): c for c in report["checks"] if c["check"].startswith("load")}
    for repo in FAMILIES:
        for loader in loaders:
            c = loads[(repo, f"load {loader}")]
            assert c["ok"] and c["seconds"] > 0 and c["peak_bytes"] > 0, c
    assert all(r["loaders"][k]["ready"] for r in report["repos"] if r["repo_id"] in FAMILIES for k in loaders)
    from jsonschema import validate

    schema = json.loads((Path(__file__).parent.parent / "core/schemas/smoke_report.schema.json").read_text())
    validate(report, schema)


def test_smoke_names_a_removed_or_truncated_weight_file(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = "facebook/musicgen-small"
    assert run(ws, capsys, "download", "--model", repo, "--profile", "full", "--run")[0] == 0
    code, out = run(ws, capsys, "smoke", "--no-load")
    assert code == 0, out
    folder = ws / "models/facebook/facebook_musicgen-small"
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(weights.stat().st_size - 100)
    code, out = run(ws, capsys, "smoke", "--no-load")
    assert code == 1
    assert "model.safetensors" in out and f"musicgen-tui download --model {repo}" in out, out
    assert "Traceback" not in out
    assert run(ws, capsys, "download", "--model", repo, "--profile", "full", "--run")[0] == 0
    assert run(ws, capsys, "smoke", "--no-load")[0] == 0
    (folder / "state_dict.bin").unlink()
    code, out = run(ws, capsys, "smoke", "--no-load", "--model", repo)
    assert code == 1 and "state_dict.bin" in out and "--profile audiocraft --run" in out, out


def test_a_loaders_write_into_the_view_never_reaches_the_workspace(ws: Path, capsys: pytest.CaptureFixture[str],
                                                                    tiny_hub: LocalHub) -> None:
    from huggingface_hub import hf_hub_download

    repo = "facebook/musicgen-small"
    assert run(ws, capsys, "download", "--model", repo, "--profile", "transformers", "--run")[0] == 0
    mine = ws / "models/facebook/facebook_musicgen-small/config.json"
    before = (mine.stat().st_ino, mine.read_bytes())
    got = Path(hf_hub_download(repo, "config.json", cache_dir=str(ws / HF_HUB_CACHE), force_download=True,
                               endpoint=tiny_hub.url))
    assert got.read_bytes() == before[1]
    assert (mine.stat().st_ino, mine.read_bytes()) == before
    blobs = list((ws / HF_HUB_CACHE / "models--facebook--musicgen-small/blobs").iterdir())
    assert len(blobs) == 1 and not os.path.samefile(blobs[0], mine)  # the loader's bytes landed in its own file
    code, out = run(ws, capsys, "env", "--shell", "fish")
    assert code == 0 and f"set -gx HF_HUB_CACHE '{(ws / HF_HUB_CACHE).resolve()}'" in out
    assert "set -gx HF_HUB_OFFLINE '1'" in out and "runtime views: 1 repos" in out
    code, out = run(ws, capsys, "env")
    assert f"export TORCH_HOME={(ws / TORCH_HOME).resolve()}" in out


def test_the_view_follows_the_workspace_and_refuses_a_planted_link(ws: Path, capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    from core.local.safeio import PlantedLink
    from core.runtime.views import refresh_views

    assert run(ws, capsys, "download", "--model", CODEC, "--run")[0] == 0
    again = refresh_views(ws)  # nothing changed: every link kept, none made
    assert (again.linked, again.removed, again.kept) == (0, 0, 3)
    weights = ws / "models/facebook/facebook_encodec_32khz/model.safetensors"
    data = weights.read_bytes()
    weights.unlink()
    weights.write_bytes(data)  # a new inode, as a re-download makes
    assert refresh_views(ws).linked == 1
    view = ws / HF_HUB_CACHE / "models--facebook--encodec_32khz"
    snap = next((view / "snapshots").iterdir())
    assert os.path.samefile(snap / "model.safetensors", weights)
    # a repo that left the workspace leaves the view; a folder this tool did not make stays
    (ws / HF_HUB_CACHE / "models--someone--else").mkdir()
    import shutil

    shutil.rmtree(ws / "models/facebook/facebook_encodec_32khz")
    refresh_views(ws)
    assert not view.exists() and (ws / HF_HUB_CACHE / "models--someone--else").is_dir()
    # a neighbour's symbolic link in place of a view folder is refused, never written through
    assert run(ws, capsys, "download", "--model", CODEC, "--run")[0] == 0
    shutil.rmtree(view)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    view.symlink_to(elsewhere)
    with pytest.raises(PlantedLink):
        refresh_views(ws)
    assert list(elsewhere.iterdir()) == []
    code, out = run(ws, capsys, "env")
    assert code == 2 and "symbolic link" in out and "Traceback" not in out


def test_the_app_shows_what_a_model_is_ready_for_and_smoke_checks_it_live(
        ws: Path, capsys: pytest.CaptureFixture[str], tiny_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from test_tui_pilot import SIZE, app_for, until
    from textual.widgets import Static

    repo = "facebook/musicgen-small"
    assert run(ws, capsys, "download", "--model", repo, "--profile", "transformers", "--run")[0] == 0
    monkeypatch.setenv("HF_ENDPOINT", DEAD)  # the loads are offline: no Hub needed from here

    async def go() -> None:
        app = app_for(ws, tiny_hub)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: repo in app.inventory_pane.ready)
            detail = str(app.inventory_pane.query_one("#inv-detail", Static).render())
            assert "ready offline: transformers" in detail and "audiocraft needs" in detail, detail
            await pilot.press("s")
            summary = app.verify_pane.query_one("#verify-summary", Static)
            await until(pilot, lambda: "smoke: " in str(summary.render()) and "…" not in str(summary.render()),
                        timeout=300)
            assert "smoke: ready ✓" in str(summary.render()), str(summary.render())
            cells = [str(app.verify_pane.table.get_row_at(i)[2]) for i in range(app.verify_pane.table.row_count)]
            assert "load transformers" in cells and "structure" in cells, cells
            await pilot.press("E")
            await until(pilot, lambda: "runtime views" in str(app.screen.query_one("#env-views", Static).render()))
            lines = str(app.screen.query_one("#env-lines", Static).render())
            assert "export HF_HUB_OFFLINE=1" in lines and "set -gx TORCH_HOME" in lines
            await pilot.press("escape")

    asyncio.run(go())
    main(["stop", "--root", str(ws)])
