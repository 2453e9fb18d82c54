"""Unit tests for the small pieces: layout, sizes, settings, safety, checksum lines, catalog, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.catalog import catalog
from core.local.checksums import format_line, parse_line
from core.local.inventory import guess_repo_id, read_readme_excerpt
from core.local.jsonio import write_json_atomic
from core.repos import RepoRef
from core.safety import unsafe_entries, unsafe_reason
from core.settings import load_settings
from core.sizes import human, parse_size


def test_layout() -> None:
    assert RepoRef("model", "facebook/musicgen-small").relpath() == "models/facebook/facebook_musicgen-small"
    assert RepoRef("dataset", "magenta/nsynth").relpath() == "datasets/magenta_nsynth"
    for bad in ("nope", "a/b/c", "../x", "a/..", "", "a /b"):
        with pytest.raises(ValueError):
            RepoRef("model", bad)


def test_guess_repo_id_from_folder() -> None:
    assert guess_repo_id("model", Path("models/facebook/facebook_musicgen-small")) == "facebook/musicgen-small"
    assert guess_repo_id("dataset", Path("datasets/magenta_nsynth")) == "magenta/nsynth"


@pytest.mark.parametrize(("text", "n"), [("100M", 100 << 20), ("0", 0), ("1.5G", 3 << 29), ("10k", 10240),
                                         ("2GiB", 2 << 30), ("7", 7)])
def test_parse_size(text: str, n: int) -> None:
    assert parse_size(text) == n


def test_parse_size_rejects() -> None:
    with pytest.raises(ValueError):
        parse_size("lots")
    assert human(1536) == "1.5 KiB"


def test_settings_env_wins_over_dotenv_and_token_is_hidden(tmp_path: Path, monkeypatch) -> None:
    for var in ("HF_TOKEN", "HF_ENDPOINT", "MUSICGEN_ROOT", "MUSICGEN_READ_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / ".env").write_text("HF_TOKEN=hf_secret_in_dotenv\nHF_ENDPOINT=http://from-dotenv\n"
                                   "MUSICGEN_READ_TIMEOUT=7\n")
    monkeypatch.setenv("HF_ENDPOINT", "http://from-env/")
    s = load_settings(tmp_path)
    assert s.endpoint == "http://from-env"
    assert s.token == "hf_secret_in_dotenv"
    assert s.read_timeout == 7
    assert "hf_secret" not in repr(s) and s.token_state == "set"


def test_unsafe_names() -> None:
    assert unsafe_reason("a/b.txt") is None
    assert unsafe_reason("données/é.txt") is None
    for bad in ("../x", "a/../../x", "/etc/passwd", "a//b", "C:/x", "a\\b", ".cache/huggingface/x", "x" * 256):
        assert unsafe_reason(bad), bad
    assert unsafe_entries(["A.txt", "a.txt", "b.txt"]) == {"a.txt": "differs only by case from 'A.txt'"}
    assert unsafe_entries(iter(["x/b.txt", "X/B.txt", "c"])) == {"X/B.txt": "differs only by case from 'x/b.txt'"}
    assert unsafe_entries(["ß.txt", "ss.txt", "a/../b"]) == {"ss.txt": "differs only by case from 'ß.txt'",
                                                            "a/../b": "'..', '.' or empty path segment"}


def test_remote_files_pack_and_give_back_every_file() -> None:
    """Packed in runs of one folder (a flat folder split at RUN files, a folder seen again in a new run), and
    given back in the order and with the values they came with."""
    from core.remote import RUN, Paths, RemoteFile, RemoteFiles

    files = [RemoteFile(f"flat/{i:05d}.wav", i, "", f"{i:064x}") for i in range(RUN + 5)]
    files += [RemoteFile("README.md", 7, "b" * 40), RemoteFile("flat/z/deep.txt", 0, "c" * 40),
              RemoteFile("flat/zz.wav", 3, "", "d" * 64), RemoteFile("a.txt", 1, "e" * 40)]
    packed = RemoteFiles(files)
    assert len(packed) == len(files) and list(packed) == files and packed == files
    assert packed[0] == files[0] and packed[-1] == files[-1] and packed[RUN + 1] == files[RUN + 1]
    assert packed[2:4] == files[2:4] and list(Paths(packed)) == [f.path for f in files]
    assert packed.find("flat/zz.wav") == files[-2] and packed.find("flat/nope.wav") is None
    runs = list(packed.runs())
    assert [r[0] for r in runs] == ["flat/", "flat/", "", "flat/z/", "flat/", ""]
    assert [n for _, names, _, _ in runs for n in names] == [f.path.rpartition("/")[2] for f in files]
    assert runs[2][3] == ["b" * 40] and runs[4][3] == ["d" * 64]  # the hash verify checks: sha256, else blob id
    assert not packed.ordered and list(packed.sorted()) == sorted(files, key=lambda f: f.path)
    assert RemoteFiles(files[:10]).ordered and RemoteFiles(files[:10]).sorted() is not None
    with pytest.raises(IndexError):
        packed[len(files)]


def test_planned_files_keep_totals_and_make_plans_as_read() -> None:
    from core.plan import FilePlan, PlannedFiles
    from core.remote import RemoteFile

    plans = [FilePlan(RemoteFile("a/1", 10, "x"), "fetch"), FilePlan(RemoteFile("a/2", 10, "x"), "fetch", 4),
             FilePlan(RemoteFile("b/3", 10, "x"), "skip", 10), FilePlan(RemoteFile("b/4", 10, "x"), "check"),
             FilePlan(RemoteFile("5", 10, "x"), "skip", 3)]  # an odd one: kept as given
    packed = PlannedFiles(plans)
    assert list(packed) == plans and packed == plans and packed[1] == plans[1] and packed[-1] == plans[-1]
    assert list(packed.pending()) == [p for p in plans if p.action != "skip"] and packed.pending_count == 3
    assert packed.bytes_total == 50 and packed.bytes_to_fetch == sum(p.to_fetch for p in plans) == 26


@pytest.mark.parametrize("name", ["models/a/b.bin", "odd\\name.bin", "new\nline.bin", "sp ace €.bin"])
def test_checksum_line_roundtrip(name: str) -> None:
    line = format_line("ab" * 32, name)
    assert line.endswith("\n") and line.count("\n") == 1
    assert parse_line(line) == ("ab" * 32, name)


def test_checksum_line_matches_sha256sum(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "back\\slash.txt").write_bytes(b"x")
    out = subprocess.run(["sha256sum", "back\\slash.txt"], cwd=tmp_path, capture_output=True, text=True).stdout
    from core.local.hashing import hash_file

    assert format_line(hash_file(tmp_path / "back\\slash.txt"), "back\\slash.txt") == out


def test_catalog_order() -> None:
    ids = [r.repo_id for r in catalog()]
    assert ids[0] == "facebook/musicgen-small" and ids[13:15] == ["google-t5/t5-base", "facebook/demucs"]
    assert ids[15:] == ["magenta/nsynth", "ionosphere/maestro", "freesound/audio-tagging", "marsyas/gtzan",
                        "polyfloyd/fma", "muso-ai/musicnet", "google/MusicCaps"]
    assert [r.repo_type for r in catalog()].count("model") == 15


def test_readme_excerpt_strips_front_matter(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n\n# Title\n" + "x" * 1000)
    text = read_readme_excerpt(tmp_path)
    assert text is not None and text.startswith("# Title") and len(text) == 500


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "inv.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["inv.json"]


def test_partial_paths_match_huggingface_hub(tmp_path: Path) -> None:
    from huggingface_hub._local_folder import get_local_download_paths

    from core.local.metadata import download_paths

    for name in ("a/b/model.safetensors", "données/é.bin", "x.bin"):
        ours = download_paths(tmp_path, name)
        theirs = get_local_download_paths(tmp_path, name)
        assert ours.file_path == theirs.file_path and ours.metadata_path == theirs.metadata_path
        assert ours.incomplete_path("e" * 64) == theirs.incomplete_path("e" * 64)


@pytest.mark.parametrize("include,exclude", [
    ((), ()), (("*.json",), ()), ((), ("*.json",)), (("weights/",), ()), (("*.bin", "*/*.bin"), ("deep/*",)),
    (("données/*",), ()), (("*",), ("*.txt", "x\\y/*")), (("[a-c]*",), ()), (("README.MD",), ()),
])
def test_globs_follow_huggingface_hub(include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """core.patterns keeps the disk layer free of huggingface_hub; it must choose exactly what the library does."""
    from huggingface_hub.utils import filter_repo_objects

    from core.patterns import select
    from core.remote import RemoteFile

    files = [RemoteFile(p, 1, "0" * 40) for p in ("README.md", "config.json", "weights/model.safetensors",
                                                  "state_dict.bin", "deep/a/b.bin", "deep/c.txt", "données/é.json",
                                                  "x/y/z.txt", "a.bin", "c.json")]
    theirs = list(filter_repo_objects(files, allow_patterns=list(include) or None,
                                      ignore_patterns=list(exclude) or None, key=lambda f: f.path))
    assert select(files, include, exclude) == theirs


def test_errors_without_a_request_are_described_not_raised() -> None:
    """httpx2 raises RuntimeError when asked for the request of an exception that has none."""
    import httpx2

    from core.hub.errors import describe, failed_url, is_repo_level, is_transient

    for exc in (httpx2.ReadTimeout("stalled"), httpx2.DecodingError("bad gzip"), httpx2.ConnectError("refused")):
        assert failed_url(exc) is None
        assert is_transient(exc, "http://hub") and not is_repo_level(exc, "http://hub")
        assert describe(exc, endpoint="http://hub")
