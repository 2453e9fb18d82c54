"""``musicgen-tui demo`` runs the whole workflow offline against the local Hub's stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import bin_path, run_bin

from core.catalog import catalog
from localhub.standins import catalog_standins


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
    p = run_bin([bin_path("musicgen-tui"), "demo", "--headless", "--root", str(tmp_path)], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 mismatch, 0 missing, 0 partial" in p.stdout
    assert "not on this endpoint" in p.stdout and "ddPn08/maestro-v3.0.0" in p.stdout
    combined = json.loads((tmp_path / "inventory" / "combined_inventory.json").read_text())
    assert combined["totals"]["all"]["repos"] == 5
    assert (tmp_path / "datasets" / "google_MusicCaps" / "musiccaps-public.csv").is_file()
    assert all(r["complete"] for r in combined["repos"])
    assert (tmp_path / "models" / "facebook" / "facebook_musicgen-small" / "state_dict.bin").is_file()
