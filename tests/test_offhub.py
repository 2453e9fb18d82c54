"""Issue 28 end to end: each of the catalog's six off-Hub ids is downloaded through the same engine from the
look-alike hosts (``MUSICGEN_SOURCES_ENDPOINT``), checked against its publisher's checksum, extracted where it is
an archive, verified offline (the archive and its tree), and shown in the inventories with where it came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, repo_dir

from localhub import Fault, HubFile
from localhub.hosts import PublisherHosts
from localhub.offhub import catalog_toml, offhub_standins, tar_gz

CASES = [  # (type, id, what lands below the repo's folder with the default profile)
    ("dataset", "magenta/nsynth", ["nsynth-test.jsonwav.tar.gz", "nsynth-test.jsonwav/nsynth-test/examples.json"]),
    ("dataset", "ionosphere/maestro",
     ["maestro-v3.0.0-midi.zip", "maestro-v3.0.0-midi/maestro-v3.0.0/2018/piece_4.midi"]),
    ("dataset", "freesound/audio-tagging",
     ["FSDKaggle2018.meta.zip", "FSDKaggle2018.audio_train/FSDKaggle2018.audio_train/00000003.wav"]),
    ("dataset", "polyfloyd/fma", ["fma_metadata.zip", "fma_small/fma_small/000/000002.mp3"]),
    ("dataset", "muso-ai/musicnet", ["musicnet_metadata.csv", "musicnet_midis/musicnet_midis/Bach/5.mid"]),
    ("model", "facebook/demucs", ["hub/checkpoints/955717e8-8726e21a.th"]),
]


@pytest.fixture
def hosts(root: Path, monkeypatch: pytest.MonkeyPatch) -> PublisherHosts:
    """Hosts of this test's own (a test may change what they serve)."""
    files, records = offhub_standins()
    with PublisherHosts(files, records) as h:
        (catalog := root.parent / "standins.toml").write_text(catalog_toml(files))
        monkeypatch.setenv("MUSICGEN_SOURCES_ENDPOINT", h.url)
        monkeypatch.setenv("MUSICGEN_CATALOG", str(catalog))
        monkeypatch.setenv("HF_TOKEN", TOKEN)  # set, and never sent to a publisher's host
        yield h


def _flag(repo_type: str) -> str:
    return "--model" if repo_type == "model" else "--dataset"


@pytest.mark.parametrize(("repo_type", "repo_id", "landed"), CASES, ids=[c[1] for c in CASES])
def test_each_off_hub_id_downloads_verifies_extracts_and_is_inventoried(cli: Any, root: Path, hosts: PublisherHosts,
                                                                          repo_type: str, repo_id: str,
                                                                          landed: list[str]) -> None:
    plan = cli("download", _flag(repo_type), repo_id, "--json")
    assert plan.code == 0, plan.err
    assert plan.json()["repos"][0]["status"] == "available"
    r = cli("download", _flag(repo_type), repo_id, "--run")
    assert r.code == 0, r.out + r.err
    folder = repo_dir(root, repo_type, repo_id)
    for rel in landed:
        assert (folder / rel).is_file(), sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    v = cli("verify", _flag(repo_type), repo_id, "--json")
    assert v.code == 0 and v.json()["counts"]["mismatch"] == 0, v.out + v.err
    again = cli("download", _flag(repo_type), repo_id, "--json")
    assert again.json()["repos"][0]["status"] == "complete"  # nothing to fetch, nothing to extract again
    inv = cli("inventory", "--json")
    entry = next(e for e in inv.json()["repos"] if e["repo_id"] == repo_id)
    assert entry["source"]["licence"] and entry["source"]["parts"][0]["url"].startswith(hosts.url)
    assert hosts.stats.requests["auth"] == 0  # the Hub's token never left for a publisher's host


def test_a_corrupted_body_and_a_changed_published_checksum_are_caught_by_name(cli: Any, root: Path,
                                                                                hosts: PublisherHosts) -> None:
    hosts.inject(Fault("corrupt", "/fma/fma_small.zip", times=10, after_bytes=100))
    r = cli("download", "--dataset", "polyfloyd/fma", "--run")
    assert r.code == 1 and "fma_small.zip" in r.out and "sha1 mismatch: the publisher says sha1" in r.out
    assert not (repo_dir(root, "dataset", "polyfloyd/fma") / "fma_small").exists()  # nothing extracted
    hosts.clear_faults()
    path = "/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip"
    hosts.published[path] = "0" * 32  # the host now claims another md5 than its bytes have
    r = cli("download", "--dataset", "ionosphere/maestro", "--run")
    assert r.code == 1 and "maestro-v3.0.0-midi.zip" in r.out and "md5 mismatch" in r.out, r.out


def test_a_hostile_archive_is_refused_naming_the_member_and_nothing_lands_outside(cli: Any, root: Path,
                                                                                   hosts: PublisherHosts) -> None:
    evil = tar_gz({"musicnet_midis/ok.mid": b"ok", "../../../../escape.txt": b"evil"})
    hosts.records[5120004][0] = HubFile("musicnet_midis.tar.gz", evil)
    r = cli("download", "--dataset", "muso-ai/musicnet", "--run")
    assert r.code == 1 and "refusing member '../../../../escape.txt'" in r.out, r.out
    assert not list(root.parent.rglob("escape.txt"))
    folder = repo_dir(root, "dataset", "muso-ai/musicnet")
    assert (folder / "musicnet_midis.tar.gz").is_file() and not (folder / "musicnet_midis").exists()


def test_a_first_download_is_pinned_and_verify_holds_it_to_that(cli: Any, root: Path, hosts: PublisherHosts) -> None:
    assert cli("download", "--dataset", "magenta/nsynth", "--run").code == 0
    plan = cli("download", "--dataset", "magenta/nsynth")
    assert "checked against the sha256 pinned at its first download" in plan.out
    folder = repo_dir(root, "dataset", "magenta/nsynth")
    (folder / "nsynth-test.jsonwav" / "nsynth-test" / "audio" / "note_003.wav").write_bytes(b"tampered")
    archive = folder / "nsynth-test.jsonwav.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    v = cli("verify", "--dataset", "magenta/nsynth")
    assert v.code == 1 and "nsynth-test.jsonwav.tar.gz" in v.out and "note_003.wav" in v.out, v.out
    report = json.loads((root / "inventory" / "verify_report.json").read_text())
    assert {p["source"] for p in report["problems"]} == {"hub", "archive"}


def test_a_server_without_range_is_fetched_in_one_stream_after_a_dropped_link(cli: Any, root: Path,
                                                                                hosts: PublisherHosts) -> None:
    hosts.inject(Fault("reset", "/datasets/nsynth/nsynth-test.jsonwav.tar.gz", after_bytes=5_000))
    r = cli("download", "--dataset", "magenta/nsynth", "--run")
    assert r.code == 0, r.out + r.err
    assert hosts.stats.requests["GET"] >= 2


def test_the_disk_check_counts_the_extraction(cli: Any, root: Path, hosts: PublisherHosts,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    plan = cli("download", "--dataset", "polyfloyd/fma", "--json").json()
    archives = sum(f.size for p, f in hosts.files.items() if p in ("/fma/fma_metadata.zip", "/fma/fma_small.zip"))
    assert plan["bytes_to_fetch"] == archives and plan["bytes_needed"] == 2 * archives  # MUSICGEN_MIN_FREE=0
    assert any("counted in the disk check" in n for n in plan["repos"][0]["notes"])


def test_drop_archives_keeps_the_tree_and_the_next_plan_fetches_nothing(cli: Any, root: Path,
                                                                         hosts: PublisherHosts) -> None:
    r = cli("download", "--dataset", "polyfloyd/fma", "--run", "--drop-archives")
    assert r.code == 0, r.out + r.err
    folder = repo_dir(root, "dataset", "polyfloyd/fma")
    assert not (folder / "fma_small.zip").exists() and (folder / "fma_small" / "fma_small" / "README.txt").is_file()
    served = sum(hosts.stats.bytes_served.values())
    plan = cli("download", "--dataset", "polyfloyd/fma", "--json").json()["repos"][0]
    assert plan["status"] == "complete" and plan["bytes_to_fetch"] == 0
    assert cli("download", "--dataset", "polyfloyd/fma", "--run").code == 0
    assert sum(hosts.stats.bytes_served.values()) == served  # nothing fetched again
    v = cli("verify", "--dataset", "polyfloyd/fma", "--json")
    assert v.code == 0 and v.json()["counts"]["ok"] == 4, v.out  # the two trees' files, from their manifests
    (folder / "fma_small" / "fma_small" / "README.txt").write_text("changed\n")
    v = cli("verify", "--dataset", "polyfloyd/fma")
    assert v.code == 1 and "fma_small/fma_small/README.txt" in v.out


def test_a_sources_profile_is_chosen_by_name_and_a_wrong_one_is_named(cli: Any, root: Path,
                                                                      hosts: PublisherHosts) -> None:
    plan = cli("download", "--dataset", "muso-ai/musicnet", "--profile", "all", "--json").json()["repos"][0]
    assert plan["profile"] == "all" and plan["file_count"] == 3
    plan = cli("download", "--dataset", "muso-ai/musicnet", "--json").json()["repos"][0]
    assert plan["profile"] == "midi" and plan["file_count"] == 2  # its default: the MIDI and the metadata
    both = cli("download", "--dataset", "magenta/nsynth", "--model", "acme/tiny-model", "--profile", "valid",
               "--json").json()["repos"]
    assert {r["repo_id"]: r["profile"] for r in both} == {"magenta/nsynth": "valid", "acme/tiny-model": "full"}
    r = cli("download", "--dataset", "magenta/nsynth", "--profile", "everything")
    assert r.code == 2 and "--profile 'everything' is none of" in r.err and "midi" in r.err
