"""The smoke check's readers on hostile and damaged files (no torch needed), and the env lines."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from core.runtime.envlines import shell_lines
from core.runtime.pickles import Unreadable, check_torch_file
from core.runtime.tensors import check_config, check_index, read_header
from localhub.offhub import torch_zip


def safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]], extra: int = 0) -> Path:
    header, at = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = {"F32": 4, "F16": 2}[dtype] * (shape[0] * (shape[1] if len(shape) > 1 else 1))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + n]}
        at += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(at + extra))
    return path


def test_a_safetensors_file_is_read_from_its_header_and_a_damaged_one_named(tmp_path: Path) -> None:
    good = safetensors(tmp_path / "a.safetensors", {"shared.weight": ("F32", [8, 4]),
                                                    "encoder.block.0.w": ("F16", [3])})
    assert read_header(good) == {"shared.weight": [8, 4], "encoder.block.0.w": [3]}
    with open(good, "r+b") as f:
        f.truncate(good.stat().st_size - 1)
    with pytest.raises(Unreadable, match="truncated"):
        read_header(good)
    with pytest.raises(Unreadable, match="after the last tensor"):
        read_header(safetensors(tmp_path / "b.safetensors", {"x": ("F32", [2])}, extra=5))
    (tmp_path / "c.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(Unreadable, match="header says"):
        read_header(tmp_path / "c.safetensors")
    raw = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "d.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(8))
    with pytest.raises(Unreadable, match="8 bytes for F32"):
        read_header(tmp_path / "d.safetensors")


def test_the_index_and_the_config_must_agree_with_the_tensors() -> None:
    shards = {"model-1.safetensors": {"a": [1]}, "model-2.safetensors": {"b": [1], "c": [1]}}
    assert check_index({"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors",
                                       "c": "model-2.safetensors"}}, shards) == []
    wrong = check_index({"weight_map": {"a": "model-2.safetensors", "b": "model-2.safetensors"}}, shards)
    assert "a is mapped to model-2.safetensors" in wrong[0] and "not in the index" in wrong[1]
    names = ["shared.weight", "encoder.block.0.x", "encoder.block.1.x"]
    shapes = {"shared.weight": [64, 16]}
    assert check_config({"model_type": "t5", "num_layers": 2, "vocab_size": 64, "d_model": 16}, names, shapes) == []
    wrong = check_config({"model_type": "t5", "num_layers": 3, "vocab_size": 64, "d_model": 32}, names, shapes)
    assert "num_layers = 3, the weights hold 2" in wrong[0] and "config.json says [64, 32]" in wrong[1]


def test_torch_files_are_read_without_running_them(tmp_path: Path) -> None:
    good = tmp_path / "state_dict.bin"
    good.write_bytes(torch_zip({"best_state": {}, "xp.cfg": "x"}, b"w" * 5000))
    assert "torch zip" in check_torch_file(good)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(Unreadable, match="truncated or damaged"):
        check_torch_file(cut)
    legacy = tmp_path / "ref.bin"
    legacy.write_bytes(pickle.dumps({"pretrained": "facebook/encodec_32khz"}, protocol=2))
    assert check_torch_file(legacy) == "a plain pickle"
    nozip = tmp_path / "plain.zip"
    with zipfile.ZipFile(nozip, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(Unreadable, match=r"without data\.pkl"):
        check_torch_file(nozip)
    (tmp_path / "junk.bin").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(Unreadable, match="neither"):
        check_torch_file(tmp_path / "junk.bin")


def test_env_lines_quote_the_root_for_each_shell(tmp_path: Path) -> None:
    odd = tmp_path / "it's a root"
    odd.mkdir()
    bash = shell_lines(odd)
    assert bash[0] == f"export HF_HOME='{tmp_path}/it'\"'\"'s a root/views/huggingface'"
    assert "export HF_HUB_OFFLINE=1" in bash
    fish = shell_lines(odd, "fish")
    assert fish[0] == f"set -gx HF_HOME '{tmp_path}/it\\'s a root/views/huggingface'"
    with pytest.raises(ValueError, match="unknown shell"):
        shell_lines(odd, "csh")


def test_a_record_edited_to_climb_out_gets_no_view(tmp_path: Path) -> None:
    """A neighbour rewrites a record so a folder reads ``../..``: the view never leaves its folder for it."""
    from core.local.record import Record, write_record
    from core.remote import Listing, RemoteFile
    from core.repos import RepoRef
    from core.runtime.views import HF_HUB_CACHE, refresh_views

    ref = RepoRef("model", "acme/x")
    folder = ref.local_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("mine")
    files = [RemoteFile("config.json", 2, "0" * 40), RemoteFile("../../../secret.txt", 4, "1" * 40)]
    write_record(folder, Record(Listing(ref, "c" * 40, files)))
    done = refresh_views(tmp_path)
    view = tmp_path / HF_HUB_CACHE / "models--acme--x" / "snapshots" / ("c" * 40)
    assert done.linked == 1 and (view / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.rglob("secret.txt")) == ["secret.txt"]  # no link to it anywhere


def test_refreshing_the_views_alone_never_walks_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``env`` asks for the views only: no inventory scan (a 300,000-file root is not walked for it)."""
    from core.local import inventory
    from core.service.chores import do_export
    from core.service.requests import Export

    walks: list[Path] = []
    real = inventory.scan
    monkeypatch.setattr(inventory, "scan", lambda root, *a, **k: walks.append(root) or real(root, *a, **k))
    done = do_export(tmp_path, Export(inventories=False, checksums=False, views=True), 0)
    assert walks == [] and done.views.startswith("runtime views: 0 repos")
    do_export(tmp_path, Export(inventories=True, checksums=False), 0)
    assert walks == [tmp_path]
