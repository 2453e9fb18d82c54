"""Issue 28's archives: a verified tar, tar.gz or zip extracted streamed and staged into a repo's folder, with a
manifest ``sha256sum -c`` accepts; every hostile member refused by name with nothing written outside the repo,
bombs stopped at the cap, and an interrupted or failed extraction never leaving a tree that reads complete."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from core.archive.extract import Limits, Stopped, archive_kind, extract
from core.archive.members import ArchiveError
from core.local.manifests import check_tree
from core.states import CheckStatus

FILES = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(300_000), "sub/deep/c.json": b"{}\n", "sp ace/é.txt": b"e\n"}


def _tar(path: Path, files: dict[str, bytes], mode: str = "w:gz",
         extra: list[tarfile.TarInfo] | None = None) -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tf.addfile(info)
    return path


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ws"
    repo = root / "datasets" / "acme_set"
    repo.mkdir(parents=True)
    return root, repo


def _where(repo: Path, name: str = "data") -> tuple[Path, Path]:
    return repo / name, repo / ".cache" / "musicgen-tui" / f"{name}.sha256"


def _everything(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("kind", ["tar.gz", "tar", "zip"])
def test_an_archive_is_extracted_with_a_manifest_sha256sum_accepts(tmp_path: Path, kind: str) -> None:
    root, repo = _repo(tmp_path)
    archive = tmp_path / f"set.{kind}"
    _zip(archive, FILES) if kind == "zip" else _tar(archive, FILES, "w:gz" if kind == "tar.gz" else "w")
    tree, manifest = _where(repo)
    seen: list[tuple[int, int]] = []
    done = extract(archive, tree, manifest, root, on_progress=lambda b, f: seen.append((b, f)))
    assert done.files == 4 and done.bytes == sum(map(len, FILES.values()))
    assert {p: (tree / p).read_bytes() for p in FILES} == FILES
    assert seen[-1] == (done.bytes, 4)
    check = subprocess.run(["sha256sum", "-c", "--strict", str(manifest)], cwd=repo, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 4, check.stdout + check.stderr
    assert all(c.status is CheckStatus.OK for c in check_tree(manifest, repo))
    assert not [p for p in repo.iterdir() if p.name.startswith(".data")]  # no staging left


@pytest.mark.parametrize(("member", "why"), [
    ("/etc/evil", "an absolute path"), ("../evil", "'..'"), ("sub/../../evil", "'..'"),
    ("link-out", "outside the archive's folder"), ("link-up", "outside the archive's folder"),
    ("dev", "device, FIFO or other special file"), ("fifo", "device, FIFO or other special file"),
    ("hard-out", "outside the archive's folder"),
])
def test_a_hostile_member_refuses_the_archive_by_name_and_nothing_lands(tmp_path: Path, member: str,
                                                                        why: str) -> None:
    root, repo = _repo(tmp_path)
    extra: list[tarfile.TarInfo] = []
    files = dict(FILES)
    if member in ("/etc/evil", "../evil", "sub/../../evil"):
        files[member] = b"evil\n"
    else:
        info = tarfile.TarInfo(member)
        info.type, info.linkname = {"link-out": (tarfile.SYMTYPE, "/etc/passwd"),
                                    "link-up": (tarfile.SYMTYPE, "../../../outside"),
                                    "dev": (tarfile.CHRTYPE, ""), "fifo": (tarfile.FIFOTYPE, ""),
                                    "hard-out": (tarfile.LNKTYPE, "../../outside")}[member]
        extra.append(info)
    archive = _tar(tmp_path / "bad.tar.gz", files, extra=extra)
    before = _everything(tmp_path)
    tree, manifest = _where(repo)
    with pytest.raises(ArchiveError) as e:
        extract(archive, tree, manifest, root)
    assert "bad.tar.gz" in str(e.value) and why in str(e.value) and repr(member.rstrip("/")) in str(e.value)
    after = _everything(tmp_path)
    assert after - before <= {"ws/datasets/acme_set/.cache", "ws/datasets/acme_set/.cache/musicgen-tui"}
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_links_that_stay_inside_are_made_after_the_files(tmp_path: Path) -> None:
    root, repo = _repo(tmp_path)
    sym, hard = tarfile.TarInfo("sub/latest"), tarfile.TarInfo("copy.txt")
    sym.type, sym.linkname = tarfile.SYMTYPE, "deep/c.json"
    hard.type, hard.linkname = tarfile.LNKTYPE, "a.txt"
    tree, manifest = _where(repo)
    done = extract(_tar(tmp_path / "l.tar", FILES, "w", [sym, hard]), tree, manifest, root)
    assert os.readlink(tree / "sub" / "latest") == "deep/c.json" and (tree / "copy.txt").read_bytes() == b"alpha\n"
    assert done.files == 5 and "data/copy.txt" in manifest.read_text()


def test_bombs_are_stopped_at_the_cap_counted_as_bytes_are_written(tmp_path: Path) -> None:
    root, repo = _repo(tmp_path)
    archive = _tar(tmp_path / "bomb.tar.gz", {"zeros.bin": bytes(40 << 20)})
    assert archive.stat().st_size < 200_000  # 40 MB of zeros in a few tens of KB
    tree, manifest = _where(repo)
    with pytest.raises(ArchiveError, match="refused as a bomb"):
        extract(archive, tree, manifest, root, limits=Limits(max_ratio=100))
    with pytest.raises(ArchiveError, match="more than 1000000 bytes"):
        extract(archive, tree, manifest, root, limits=Limits(max_bytes=1_000_000))
    with pytest.raises(ArchiveError, match="more than 3 members"):
        extract(_tar(tmp_path / "many.tar", FILES, "w"), tree, manifest, root, limits=Limits(max_members=3))
    assert not tree.exists() and not manifest.exists()
    assert [p.name for p in repo.iterdir()] == [".cache"]


def test_a_damaged_or_truncated_archive_is_said_and_leaves_nothing(tmp_path: Path) -> None:
    root, repo = _repo(tmp_path)
    good = _tar(tmp_path / "set.tar.gz", FILES)
    data = good.read_bytes()
    (cut := tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    (flipped := tmp_path / "flip.tar.gz").write_bytes(data[:-12] + bytes(b ^ 0xFF for b in data[-12:-8]) + data[-8:])
    tree, manifest = _where(repo)
    for bad in (cut, flipped):
        with pytest.raises(ArchiveError) as e:
            extract(bad, tree, manifest, root)
        assert bad.name in str(e.value) and "damaged" in str(e.value)
        assert not tree.exists() and not manifest.exists()


def test_an_interrupted_extraction_never_reads_complete_and_the_next_one_finishes(tmp_path: Path) -> None:
    root, repo = _repo(tmp_path)
    archive = _tar(tmp_path / "set.tar.gz", {f"f{i}.bin": os.urandom(64_000) for i in range(40)})
    tree, manifest = _where(repo)
    extract(_tar(tmp_path / "old.tar.gz", {"old.txt": b"old\n"}), tree, manifest, root)
    cancel = threading.Event()

    def stop_soon(done: int, files: int) -> None:
        cancel.set()  # at the first word of progress: the next chunk stops it

    with pytest.raises(Stopped):
        extract(archive, tree, manifest, root, on_progress=stop_soon, cancel=cancel)
    assert not manifest.exists()  # the old tree is still there, but nothing says it is complete
    (repo / ".data.extracting").mkdir()  # as a killed run leaves it
    (repo / ".data.extracting" / "half.bin").write_bytes(b"half")
    done = extract(archive, tree, manifest, root)
    assert done.files == 40 and not (tree / "old.txt").exists() and not (repo / ".data.extracting").exists()
    assert sorted(p.name for p in repo.iterdir()) == [".cache", "data"]


def test_a_planted_link_at_the_tree_is_refused_and_a_changed_file_is_found(tmp_path: Path) -> None:
    root, repo = _repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tree, manifest = _where(repo)
    tree.symlink_to(elsewhere)
    with pytest.raises(OSError, match="symbolic link"):
        extract(_tar(tmp_path / "set.tar.gz", FILES), tree, manifest, root)
    assert list(elsewhere.iterdir()) == []
    tree.unlink()
    extract(tmp_path / "set.tar.gz", tree, manifest, root)
    (tree / "a.txt").write_bytes(b"changed\n")
    (tree / "sub" / "deep" / "c.json").unlink()
    found = {c.path: c.status for c in check_tree(manifest, repo) if c.status is not CheckStatus.OK}
    assert found == {"data/a.txt": CheckStatus.MISMATCH, "data/sub/deep/c.json": CheckStatus.MISSING}


def test_what_is_an_archive() -> None:
    assert [archive_kind(n) for n in ("a.tar.gz", "B.TGZ", "c.tar", "d.tar.xz", "e.zip")] == \
        ["tar.gz", "tar.gz", "tar", "tar", "zip"]
    with pytest.raises(ArchiveError, match="not an archive"):
        archive_kind("weights.th")
