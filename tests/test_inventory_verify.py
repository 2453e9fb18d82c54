"""Inventories (validated against the shipped schemas), checksums (checked by the real sha256sum) and verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import repo_dir

from localhub import LocalHub

SCHEMAS = Path(__file__).resolve().parents[1] / "core" / "schemas"
MODEL, DATASET = ("model", "acme/tiny-model"), ("dataset", "acme/many-files")


def validate(doc: dict, schema: str) -> None:  # type: ignore[type-arg]
    jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / f"{schema}.schema.json").read_text()),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    ).validate(doc)


@pytest.fixture(scope="session")
def _template(_session_hub: LocalHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both repos downloaded once per session through the engine; tests get a copy."""
    from core.hub.download import Downloader
    from core.hub.planner import make_plan
    from core.repos import RepoRef
    from core.settings import Settings

    ws = tmp_path_factory.mktemp("template")
    settings = Settings(root=ws, endpoint=_session_hub.url, min_free=0)
    plan = make_plan(settings, [RepoRef(*MODEL), RepoRef(*DATASET)])
    assert Downloader(settings).run(plan).ok
    return ws


@pytest.fixture
def downloaded(_template: Path, root: Path) -> Path:
    shutil.copytree(_template, root, dirs_exist_ok=True)
    return root


def load(root: Path, rel: str) -> dict:  # type: ignore[type-arg]
    return json.loads((root / rel).read_text(encoding="utf-8"))


def test_inventories_match_schemas_and_disk(cli, downloaded: Path, hub: LocalHub) -> None:
    root = downloaded
    (root / "models" / "other" / "other_handmade").mkdir(parents=True)
    (root / "models" / "other" / "other_handmade" / "weights.bin").write_bytes(b"x" * 10)
    r = cli("inventory")
    assert r.code == 0
    models, datasets = load(root, "models/inventory.json"), load(root, "datasets/inventory.json")
    combined = load(root, "inventory/combined_inventory.json")
    validate(models, "models_inventory")
    validate(datasets, "datasets_inventory")
    validate(combined, "combined_inventory")

    tiny = next(x for x in models["repos"] if x["repo_id"] == "acme/tiny-model")
    hub_repo = hub.repos[MODEL]
    assert tiny["path"] == "models/acme/acme_tiny-model"
    assert tiny["snapshot_id"] == hub_repo.commit
    assert tiny["complete"] is True
    assert tiny["file_count"] == len(hub_repo.files)
    assert tiny["size_bytes"] == sum(f.size for f in hub_repo.files)
    assert [f["path"] for f in tiny["files"]] == sorted(f.path for f in hub_repo.files)

    handmade = next(x for x in models["repos"] if x["repo_id"] == "other/handmade")
    assert handmade["snapshot_id"] is None and handmade["complete"] is False

    [ds] = datasets["repos"]
    assert ds["file_count"] == 2_502
    assert len(ds["top_files"]) == 10
    assert ds["top_files"][0] == {"path": "data/big.bin", "size_bytes": 50_000}
    assert ds["readme_excerpt"].startswith("# Many files")
    assert "pretty_name" not in ds["readme_excerpt"]
    assert "files" not in ds

    assert combined["totals"]["all"]["repos"] == 3
    assert combined["totals"]["all"]["bytes"] == models["total_bytes"] + datasets["total_bytes"]
    assert [x["repo_id"] for x in combined["repos"]] == ["acme/tiny-model", "other/handmade", "acme/many-files"]


def test_inventory_of_partial_download_is_not_complete(cli, root: Path, hub: LocalHub) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    (repo_dir(root, *MODEL) / "state_dict.bin").unlink()
    inv = cli("inventory", "--json").json()
    validate(inv, "combined_inventory")
    assert inv["repos"][0]["complete"] is False


def test_dataset_is_complete_only_with_every_planned_file(cli, downloaded: Path) -> None:
    """Every one of 2,502 planned files is checked: one byte short anywhere, or one file gone, breaks it."""
    def complete() -> bool:
        inv = cli("inventory", "--json").json()
        return bool(next(r for r in inv["repos"] if r["repo_type"] == "dataset")["complete"])

    folder = repo_dir(downloaded, *DATASET)
    assert complete()
    deep = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)[1_234]
    size = deep.stat().st_size
    os.truncate(deep, size - 1)
    assert not complete()
    os.truncate(deep, size)
    assert complete()
    deep.unlink()
    assert not complete()


def test_planned_sizes_follow_the_downloads_choice(tmp_path: Path) -> None:
    from core.local import record as localrecord
    from core.local.metadata import hf_dir
    from core.remote import Listing, RemoteFile
    from core.repos import RepoRef

    files = [RemoteFile(p, n, "0" * 40) for p, n in (("a.bin", 1), ("sub/b.bin", 2), ("c.txt", 3), ("../x", 4))]
    listing = Listing(RepoRef("dataset", "acme/set"), "1" * 40, files)
    localrecord.write_record(tmp_path, localrecord.Record(listing, selected=("sub/b.bin", "c.txt")))
    planned = localrecord.read_planned_sizes(tmp_path)
    assert planned is not None and planned.commit == "1" * 40 and planned.ref.repo_id == "acme/set"
    assert sorted(planned.pairs()) == [("c.txt", 3), ("sub/b.bin", 2)]
    assert localrecord.read_planned_sizes(tmp_path) == planned  # again, from the cache
    # a choice out of the listing's order, given as a one-shot iterator: marked from a set, the same record
    localrecord.write_record(tmp_path, localrecord.Record(listing, selected=iter(("c.txt", "sub/b.bin"))))
    again = localrecord.read_planned_sizes(tmp_path)
    assert again is not None and sorted(again.pairs()) == [("c.txt", 3), ("sub/b.bin", 2)]
    localrecord.write_record(tmp_path, localrecord.Record(listing, include=("*.bin", "*/*.bin", "../*")))
    planned = localrecord.read_planned_sizes(tmp_path)  # the patterns chose; the record keeps the choice
    assert planned is not None and sorted(planned.pairs()) == [("a.bin", 1), ("sub/b.bin", 2)]
    record = hf_dir(tmp_path) / localrecord.RECORD_NAME
    assert json.loads(record.read_text())["folders"] == [["", ["a.bin"], [1], ["0" * 40], "1"],  # runs, in order
                                                         ["sub/", ["b.bin"], [2], ["0" * 40], "1"],
                                                         ["", ["c.txt"], [3], ["0" * 40], "0"],
                                                         ["../", ["x"], [4], ["0" * 40], "0"]]  # unsafe: never chosen
    old = {"repo_id": "acme/set", "repo_type": "dataset", "commit": "1" * 40, "include": ["*.bin", "*/*.bin", "../*"],
           "exclude": [], "profile": "full", "selected": None,
           "files": [[f.path, f.size, f.blob_id, f.sha256] for f in files]}
    record.write_text(json.dumps(old), encoding="utf-8")  # format 1: its patterns, minus unsafe names
    planned = localrecord.read_planned_sizes(tmp_path)
    assert planned is not None and sorted(planned.pairs()) == [("a.bin", 1), ("sub/b.bin", 2)]
    st = record.stat()
    text = record.read_text(encoding="utf-8").replace('"a.bin", 1,', '"a.bin", 9,')
    record.write_text(text, encoding="utf-8")  # same file, same length: only the mtime tells the change
    os.utime(record, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    planned = localrecord.read_planned_sizes(tmp_path)
    assert planned is not None and sorted(planned.pairs()) == [("a.bin", 9), ("sub/b.bin", 2)]
    (hf_dir(tmp_path) / localrecord.PLANNED_CACHE).write_bytes(b"\x00garbage")
    assert localrecord.read_planned_sizes(tmp_path) == planned
    record.write_text("{not json", encoding="utf-8")
    assert localrecord.read_planned_sizes(tmp_path) is None


def test_checksums_pass_real_sha256sum(cli, downloaded: Path) -> None:
    root = downloaded
    r = cli("checksums", "--min-size", "0")
    assert r.code == 0, r.err
    text = (root / "models" / "checksums.sha256").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines == sorted(lines, key=lambda ln: ln.split("  ", 1)[1])
    assert any(ln.endswith("  models/acme/acme_tiny-model/state_dict.bin") for ln in lines)
    assert not any(".cache" in ln for ln in lines)
    assert len((root / "datasets" / "checksums.sha256").read_text().splitlines()) == 2_502
    for rel in ("models/checksums.sha256", "datasets/checksums.sha256"):
        p = subprocess.run(["sha256sum", "-c", "--quiet", rel], cwd=root, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr


def test_checksums_threshold(cli, downloaded: Path) -> None:
    root = downloaded
    assert cli("checksums", "--min-size", "100K").code == 0
    lines = (root / "models" / "checksums.sha256").read_text().splitlines()
    assert [ln.split("  ")[1] for ln in lines] == ["models/acme/acme_tiny-model/state_dict.bin",
                                                   "models/acme/acme_tiny-model/weights/model.safetensors"]
    assert not (root / "datasets" / "checksums.sha256").exists()  # no dataset file is over 100K
    r = cli("checksums")  # default 100M: nothing here is that large
    assert r.code == 0 and "no files over 100M" in r.out


def test_verify_clean_tree(cli, downloaded: Path) -> None:
    r = cli("verify", "--json")
    assert r.code == 0
    report = r.json()
    validate(report, "verify_report")
    assert report["counts"]["ok"] == 8 + 2_502 and report["problems"] == []
    validate(load(downloaded, "inventory/verify_report.json"), "verify_report")


def test_flipped_byte_is_named_and_next_download_repairs_it(cli, downloaded: Path, hub: LocalHub) -> None:
    root = downloaded
    assert cli("checksums", "--min-size", "0").code == 0
    target = repo_dir(root, *MODEL) / "weights" / "model.safetensors"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[12345] ^= 0x01
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the bytes differ
    r = cli("verify")
    assert r.code == 1
    problems = [ln for ln in r.out.splitlines() if ln.startswith("MISMATCH")]
    assert any("acme/tiny-model: weights/model.safetensors" in ln for ln in problems)
    assert any("models/checksums.sha256" in ln and "model.safetensors" in ln for ln in problems)
    report = load(root, "inventory/verify_report.json")
    assert report["counts"]["mismatch"] == 2
    validate(report, "verify_report")

    gets = hub.stats.requests["GET"]
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 0
    assert hub.stats.requests["GET"] == gets + 1  # only the damaged file
    assert target.read_bytes() == hub.repos[MODEL].get("weights/model.safetensors").read()  # type: ignore[union-attr]
    assert cli("verify").code == 0


def test_verify_missing_partial_and_selection(cli, downloaded: Path) -> None:
    root = downloaded
    model = repo_dir(root, *MODEL)
    (model / "config.json").unlink()
    with open(model / "state_dict.bin", "r+b") as f:
        f.truncate(1000)
    r = cli("verify", "--model", "acme/tiny-model")
    assert r.code == 1
    assert "MISSING  acme/tiny-model: config.json" in r.out
    assert "PARTIAL  acme/tiny-model: state_dict.bin" in r.out
    assert "acme/many-files" not in r.out
    assert cli("verify", "--dataset", "acme/many-files").code == 0
    r = cli("verify", "--model", "acme/never-downloaded")
    assert r.code == 1 and "MISSING" in r.out


def test_verify_accepts_folder_fetched_by_hf_download(cli, root: Path, hub: LocalHub) -> None:
    """A folder written by huggingface_hub itself (no record of ours) is verified from its .metadata files."""
    from huggingface_hub import snapshot_download

    folder = repo_dir(root, *MODEL)
    snapshot_download("acme/tiny-model", local_dir=folder, endpoint=hub.url, token=False)
    r = cli("verify")
    assert r.code == 0, r.out
    assert "8 OK" in r.out
    inv = cli("inventory", "--json").json()
    assert inv["repos"][0]["repo_id"] == "acme/tiny-model"
    assert inv["repos"][0]["snapshot_id"] == hub.repos[MODEL].commit


def test_smoke_check_wrapper_writes_report(downloaded: Path) -> None:
    import sys

    script = Path(__file__).resolve().parent / "env_tests" / "smoke_check.py"
    p = subprocess.run([sys.executable, str(script), "--root", str(downloaded)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert load(downloaded, "inventory/verify_report.json")["counts"]["ok"] == 8 + 2_502


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file hashed from now on, in order (hashing.hash_file, counted)."""
    from core.local import hashing

    calls: list[Path] = []
    real = hashing.hash_file

    def counting(path: str, algorithm: str = "sha256", size: int = -1) -> str:
        calls.append(Path(path))
        return real(path, algorithm, size)

    monkeypatch.setattr(hashing, "hash_file", counting)
    return calls


def test_second_verify_reuses_hashes_but_never_trusts_a_changed_file(cli, downloaded: Path,
                                                                     hashed: list[Path]) -> None:
    root = downloaded
    assert cli("verify", "--model", "acme/tiny-model").code == 0
    calls = hashed
    calls.clear()  # from here on, only what the next runs hash
    assert cli("verify", "--model", "acme/tiny-model").code == 0
    assert calls == []  # nothing changed: every hash remembered
    target = repo_dir(root, *MODEL) / "state_dict.bin"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[7] ^= 0x10
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: ctime still moves
    r = cli("verify", "--model", "acme/tiny-model")
    assert r.code == 1 and "state_dict.bin" in r.out
    assert calls == [target]
    calls.clear()
    assert cli("verify", "--model", "acme/tiny-model", "--full").code == 1
    assert len(calls) == 8  # --full hashes everything again


def test_verify_stops_soon_after_cancel(downloaded: Path, hashed: list[Path]) -> None:
    """The app hands verify a cancel event (set on quit): the files not yet begun are never hashed."""
    import threading

    from core.local.verify import verify

    cancel = threading.Event()
    result = verify(downloaded, full=True, cancel=cancel, on_check=lambda _c: cancel.set())
    assert result.counts["checked"] == 1  # the one in hand when the event was set
    assert len(hashed) < (8 + 2_502) // 2  # the queue was dropped, not worked through


def test_planning_skips_what_is_left_once_cancelled(root: Path, hub: LocalHub) -> None:
    import threading

    from core.hub.planner import make_plan
    from core.repos import RepoRef
    from core.settings import Settings

    cancel = threading.Event()
    cancel.set()
    plan = make_plan(Settings(root=root, endpoint=hub.url), [RepoRef(*MODEL), RepoRef(*DATASET)], cancel=cancel)
    assert [(r.status, r.message) for r in plan.repos] == [("error", "cancelled before it was planned")] * 2
    assert sum(hub.stats.requests.values()) == 0
