"""Profiles, dependencies, aliases, ids the Hub lacks and the user's catalog.toml, end to end."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import repo_dir, tree_bytes

from core.catalog import CatalogError, load_catalog
from core.profiles import apply_profile
from core.remote import RemoteFile
from core.runtime.pickles import repo_ids_in_pickle
from localhub import HubFile, HubRepo, HubStats, LocalHub
from localhub.standins import catalog_standins, reference_file

SEED_MISSING = {"facebook/demucs", "magenta/nsynth", "ionosphere/maestro", "freesound/audio-tagging",
                "polyfloyd/fma", "muso-ai/musicnet"}
TRANSFORMERS_SMALL = {"config.json", "generation_config.json", "preprocessor_config.json", "spiece.model",
                      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}


@pytest.fixture(scope="session")
def _public_hub() -> Iterator[LocalHub]:
    """Stand-ins shaped like the public Hub, plus two repos the catalog does not know."""
    extra = [
        HubRepo("acme/Unknown-MusicGen", "model", [HubFile("state_dict.bin", b"w" * 20_000),
                                                   HubFile("compression_state_dict.bin", reference_file(), lfs=True),
                                                   HubFile("config.json", b"{}\n")]),
        HubRepo("acme/odd-layout", "model", [HubFile("weights.pt", b"p" * 12_000), HubFile("notes.txt", b"n\n")]),
    ]
    with LocalHub(catalog_standins() + extra) as hub:
        yield hub


@pytest.fixture
def public_hub(_public_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> LocalHub:
    _public_hub.stats = HubStats()
    monkeypatch.setenv("HF_ENDPOINT", _public_hub.url)
    return _public_hub


def files_in(root: Path, repo_type: str, repo_id: str) -> set[str]:
    return set(tree_bytes(repo_dir(root, repo_type, repo_id)))


def test_audiocraft_profile_takes_two_files_and_the_codec(cli, root: Path, public_hub: LocalHub) -> None:
    r = cli("download", "--model", "facebook/musicgen-stereo-small", "--profile", "audiocraft", "--run")
    assert r.code == 0, r.out + r.err
    assert files_in(root, "model", "facebook/musicgen-stereo-small") == {"state_dict.bin",
                                                                        "compression_state_dict.bin"}
    assert files_in(root, "model", "facebook/encodec_32khz") == {"config.json", "preprocessor_config.json",
                                                                "model.safetensors"}
    assert "facebook/encodec_32khz (dependency)" in r.out
    assert "needed by facebook/musicgen-stereo-small" in r.out


@pytest.mark.parametrize(("repo_id", "weights"), [
    ("facebook/musicgen-small", {"model.safetensors"}),
    ("facebook/musicgen-medium", {"pytorch_model.bin"}),  # no safetensors on main
    ("facebook/musicgen-large", {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
                                 "pytorch_model.bin.index.json"}),
    ("facebook/musicgen-melody", {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                  "model.safetensors.index.json"}),
    ("facebook/musicgen-stereo-small", {"model.safetensors"}),  # never the fp32 copies
])
def test_transformers_profile_takes_one_weight_format(cli, root: Path, public_hub: LocalHub, repo_id: str,
                                                      weights: set[str]) -> None:
    r = cli("download", "--model", repo_id, "--profile", "transformers", "--no-deps", "--run")
    assert r.code == 0, r.out + r.err
    assert files_in(root, "model", repo_id) == TRANSFORMERS_SMALL | weights


def test_fp32_copies_only_when_asked(cli, root: Path, public_hub: LocalHub) -> None:
    r = cli("download", "--model", "facebook/musicgen-stereo-small", "--profile", "transformers", "--fp32",
            "--no-deps", "--run")
    assert r.code == 0
    assert {"model.safetensors", "model.fp32.safetensors"} <= files_in(root, "model", "facebook/musicgen-stereo-small")


def test_full_profile_takes_everything(cli, root: Path, public_hub: LocalHub) -> None:
    assert cli("download", "--model", "facebook/musicgen-small", "--run").code == 0
    hub_files = {f.path for f in public_hub.repos[("model", "facebook/musicgen-small")].files}
    assert files_in(root, "model", "facebook/musicgen-small") == hub_files


def test_unknown_layout_falls_back_to_full_and_says_so(cli, root: Path, public_hub: LocalHub) -> None:
    r = cli("download", "--model", "acme/odd-layout", "--profile", "audiocraft", "--run")
    assert r.code == 0
    assert "fetching the full repo" in r.out
    assert files_in(root, "model", "acme/odd-layout") == {"weights.pt", "notes.txt"}


def test_alias_lands_in_the_canonical_folder(cli, root: Path, public_hub: LocalHub) -> None:
    r = cli("download", "--dataset", "google/musiccaps", "--run")
    assert r.code == 0, r.out + r.err
    assert (root / "datasets" / "google_MusicCaps" / "musiccaps-public.csv").is_file()
    assert not (root / "datasets" / "google_musiccaps").exists()
    r = cli("download", "--dataset", "google/MUSICCAPS", "--json")
    assert r.json()["repos"][0]["status"] == "complete"


def test_hub_spelling_wins_for_repos_the_catalog_does_not_know(cli, root: Path, public_hub: LocalHub) -> None:
    r = cli("download", "--model", "acme/unknown-musicgen", "--profile", "audiocraft", "--run", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["repos"][0]["repo_id"] == "acme/Unknown-MusicGen"
    assert data["repos"][0]["requested_id"] == "acme/unknown-musicgen"
    assert (root / "models" / "acme" / "acme_Unknown-MusicGen" / "state_dict.bin").is_file()
    # its 589-byte compression_state_dict.bin names the codec: detected, planned and fetched
    dep = data["repos"][1]
    assert (dep["repo_id"], dep["dependency_of"], dep["profile"]) == ("facebook/encodec_32khz",
                                                                      "acme/Unknown-MusicGen", "transformers")
    assert (repo_dir(root, "model", "facebook/encodec_32khz") / "model.safetensors").is_file()


def test_missing_seed_id_says_where_the_data_lives_and_the_rest_downloads(cli, root: Path, public_hub: LocalHub,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Its publisher's host does not have it (a 404): the line says the endpoint lacks it, why the publisher
    could not be asked, and where else it lives; the rest downloads."""
    monkeypatch.setenv("MUSICGEN_SOURCES_ENDPOINT", public_hub.url)  # a host without NSynth's paths
    r = cli("download", "--dataset", "magenta/nsynth", "--dataset", "marsyas/gtzan", "--run")
    assert r.code == 1
    line = next(ln for ln in r.out.splitlines() if ln.startswith("  magenta/nsynth:"))
    assert "not on this endpoint" in line and "Magenta" in line and "jg583/NSynth" in line, line
    assert "could not be asked" in line
    assert "Traceback" not in r.out + r.err
    assert (root / "datasets" / "marsyas_gtzan" / "data" / "genres.tar.gz").is_file()


def test_a_mirror_carrying_a_seed_id_is_used(cli, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalHub([r for r in catalog_standins(everything=True) if r.repo_id == "ionosphere/maestro"]) as mirror:
        monkeypatch.setenv("HF_ENDPOINT", mirror.url)
        r = cli("download", "--dataset", "ionosphere/maestro", "--run")
    assert r.code == 0, r.out
    assert (root / "datasets" / "ionosphere_maestro" / "maestro-v3.0.0.zip").is_file()


def test_dry_run_of_the_seed_is_honest(cli, root: Path, public_hub: LocalHub) -> None:
    """The six ids the Hub lacks are planned from their publishers' hosts (the session's look-alikes): every seed
    id is available, and those six say who serves them."""
    r = cli("download", "--models", "--datasets", "--json")
    assert r.code == 0
    repos = r.json()["repos"]
    by_id = {x["repo_id"]: x for x in repos}
    assert len(repos) == 22
    assert all(x["status"] == "available" for x in repos)
    assert {i for i, x in by_id.items() if x["source"]} == SEED_MISSING
    assert by_id["magenta/nsynth"]["profile"] == "test" and by_id["polyfloyd/fma"]["profile"] == "small"
    assert "google/MusicCaps" in by_id
    r = cli("download", "--models", "--datasets")
    assert "available" in r.out and "not on this endpoint" not in r.out


def test_profiled_download_is_complete_and_verifies(cli, root: Path, public_hub: LocalHub) -> None:
    assert cli("download", "--model", "facebook/musicgen-small", "--profile", "audiocraft", "--run").code == 0
    inv = cli("inventory", "--json").json()
    small = next(x for x in inv["repos"] if x["repo_id"] == "facebook/musicgen-small")
    assert small["complete"] is True
    v = cli("verify", "--model", "facebook/musicgen-small")
    assert v.code == 0 and "2 OK" in v.out
    (repo_dir(root, "model", "facebook/musicgen-small") / "state_dict.bin").unlink()
    inv = cli("inventory", "--json").json()
    assert next(x for x in inv["repos"] if x["repo_id"] == "facebook/musicgen-small")["complete"] is False


def test_user_catalog_adds_an_entry(cli, root: Path, public_hub: LocalHub) -> None:
    (root / "catalog.toml").write_text(
        '[[models]]\nid = "acme/odd-layout"\ngroup = "Mine"\ndepends = ["facebook/encodec_24khz"]\n'
        'description = "my fine-tune"\n\n[[datasets]]\nid = "marsyas/gtzan"\nnotes = "overridden"\n')
    r = cli("catalog", "--json")
    assert r.code == 0
    entries = {e["repo_id"]: e for e in r.json()}
    assert entries["acme/odd-layout"]["group"] == "Mine"
    assert entries["marsyas/gtzan"]["notes"] == "overridden" and entries["marsyas/gtzan"]["licence"]
    assert list(entries)[-1] == "acme/odd-layout"
    r = cli("download", "--models", "--json")
    by_id = {x["repo_id"]: x for x in r.json()["repos"]}
    assert by_id["acme/odd-layout"]["depends"] == ["facebook/encodec_24khz"]
    assert "acme/odd-layout" in cli("catalog").out


def test_bad_catalog_names_file_and_line(cli, root: Path) -> None:
    (root / "catalog.toml").write_text('[[models]]\nid = "acme/x"\ncolour = "blue"\n')
    r = cli("catalog")
    assert r.code == 2
    assert f"{root / 'catalog.toml'}:3: unknown field 'colour'" in r.err
    (root / "catalog.toml").write_text('[[models]]\nid = "not an id"\n')
    r = cli("download", "--models")
    assert r.code == 2 and "catalog.toml:2" in r.err
    (root / "catalog.toml").write_text('[[models]\nid = "x"\n')
    with pytest.raises(CatalogError, match=r"catalog\.toml"):
        load_catalog(root)


def rf(path: str, size: int = 10) -> RemoteFile:
    return RemoteFile(path, size, "0" * 40, "a" * 64 if path.endswith((".bin", ".safetensors")) else None)


def test_apply_profile_units() -> None:
    listing = [rf(p) for p in ("README.md", "config.json", "state_dict.bin", "compression_state_dict.bin",
                               "model.safetensors", "model.fp32.safetensors", "pytorch_model.bin")]
    assert {f.path for f in apply_profile(listing, "audiocraft")[0]} == {"state_dict.bin",
                                                                         "compression_state_dict.bin"}
    assert {f.path for f in apply_profile(listing, "transformers")[0]} == {"config.json", "model.safetensors"}
    assert apply_profile(listing, "full")[0] == listing
    assert apply_profile(listing, "audiocraft", repo_type="dataset") == (listing, None)
    with pytest.raises(ValueError):
        apply_profile(listing, "nope")


def test_references_are_read_without_unpickling() -> None:
    assert repo_ids_in_pickle(reference_file()) == ["facebook/encodec_32khz"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"pretrained": "facebook/encodec_24khz"}))
    assert repo_ids_in_pickle(buf.getvalue()) == ["facebook/encodec_24khz"]
    evil = b"cos\nsystem\n(S'touch /tmp/pwned-by-musicgen'\ntR."  # would run a command if unpickled
    assert repo_ids_in_pickle(evil) == []
    assert not Path("/tmp/pwned-by-musicgen").exists()


def test_each_profile_plans_its_loaders_whole_closure(cli, root: Path, public_hub: LocalHub) -> None:
    """audiocraft reaches T5 (by its legacy name), the codec a reference names and demucs for melody models;
    transformers reads the repo alone. Each dependency is planned with the files its loader reads, and sized."""
    r = cli("download", "--model", "facebook/musicgen-stereo-melody-large", "--profile", "audiocraft", "--json")
    assert r.code == 0, r.err
    repos = {x["repo_id"]: x for x in r.json()["repos"]}
    top = repos.pop("facebook/musicgen-stereo-melody-large")
    assert top["depends"] == ["google-t5/t5-base", "facebook/encodec_32khz", "facebook/demucs:htdemucs"]
    assert set(repos) == {"google-t5/t5-base", "facebook/encodec_32khz", "facebook/demucs"}
    assert {x["dependency_of"] for x in repos.values()} == {"facebook/musicgen-stereo-melody-large"}
    assert repos["facebook/demucs"]["profile"] == "htdemucs" and repos["facebook/demucs"]["file_count"] == 1
    assert all(x["bytes_total"] > 0 for x in repos.values())
    r = cli("download", "--model", "facebook/musicgen-small", "--profile", "audiocraft", "--run")
    assert r.code == 0, r.out + r.err
    assert "google-t5/t5-base (dependency)" in r.out
    # only what T5Tokenizer and T5EncoderModel read: no TF, Flax, Rust or second PyTorch copy
    assert files_in(root, "model", "google-t5/t5-base") == {"config.json", "generation_config.json", "spiece.model",
                                                           "tokenizer.json", "model.safetensors"}
    r = cli("download", "--model", "facebook/musicgen-stereo-melody", "--profile", "transformers", "--json")
    assert [x["repo_id"] for x in r.json()["repos"]] == ["facebook/musicgen-stereo-melody"]
    r = cli("download", "--model", "facebook/musicgen-stereo-melody", "--profile", "audiocraft", "--no-deps",
            "--json")
    assert [x["repo_id"] for x in r.json()["repos"]] == ["facebook/musicgen-stereo-melody"]
