"""``download --lock``: a locked set restored into another root at the locked revisions (the Hub's main moved
since), every file held to the lock's hash, the bytes counted at the servers; a revision the Hub no longer serves
refused per repo with nothing fetched in its place; a restore through the root's service."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import bin_path, point_at, repo_dir, run_bin
from test_outdated import MOVING, STILL, moving  # the repo whose main moves

from cli.main import main
from localhub import HubFile, HubRepo, HubStats, LocalHub
from localhub.hosts import PublisherHosts
from localhub.offhub import catalog_toml, offhub_standins

NSYNTH = "magenta/nsynth"


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    with LocalHub([moving(1), HubRepo(STILL, "dataset", [HubFile("data.csv", b"a,b\n1,2\n")])]) as hub:
        yield hub


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PublisherHosts]:
    files, records = offhub_standins()
    with PublisherHosts(files, records) as h:
        (catalog := tmp_path / "standins.toml").write_text(catalog_toml(files))
        monkeypatch.setenv("MUSICGEN_SOURCES_ENDPOINT", h.url)
        monkeypatch.setenv("MUSICGEN_CATALOG", str(catalog))
        yield h


@pytest.fixture
def locked(tmp_path: Path, hub: LocalHub, hosts: PublisherHosts, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root with a model, a Hub dataset and an off-Hub dataset, locked; its lock file."""
    first = _root(hub, tmp_path / "first", monkeypatch)
    r = ["--root", str(first)]
    assert main(["download", "--model", MOVING, "--dataset", STILL, "--dataset", NSYNTH, "--run", *r]) == 0
    assert main(["lock", "--output", str(tmp_path / "musicgen.lock"), *r]) == 0
    return tmp_path / "musicgen.lock"


def _root(hub: LocalHub, where: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where.mkdir()
    return point_at(hub, where, monkeypatch)


def _served(hub: LocalHub, hosts: PublisherHosts) -> int:
    return sum(hub.stats.bytes_served.values()) + sum(hosts.stats.bytes_served.values())


def _files_of(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts}


def test_a_lock_is_restored_at_its_revisions_after_main_moved(tmp_path: Path, hub: LocalHub, hosts: PublisherHosts,
                                                              locked: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(locked.read_text())
    locked_bytes = sum(s for repo in doc["repos"] for _, s, _ in repo["files"])
    hub.add(moving(2))  # main moves: b.txt changed, c.txt gone, d.txt new
    hub.stats, hosts.stats = HubStats(), HubStats()
    empty = _root(hub, tmp_path / "second", monkeypatch)
    r = ["--root", str(empty)]
    capsys.readouterr()
    assert main(["download", "--lock", str(locked), "--run", *r]) == 0, capsys.readouterr()
    assert _served(hub, hosts) == locked_bytes  # every locked byte once, nothing more
    model = repo_dir(empty, "model", MOVING)
    assert (model / "notes" / "b.txt").read_bytes() == b"b 1\n" and (model / "notes" / "c.txt").is_file()
    assert not (model / "notes" / "d.txt").exists()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # checked with no network
    monkeypatch.setenv("MUSICGEN_SOURCES_ENDPOINT", "http://127.0.0.1:9")
    capsys.readouterr()
    assert main(["verify", "--lock", str(locked), *r]) == 0, capsys.readouterr().out
    assert "the root matches it" in capsys.readouterr().out

    # again: every file is present and matches, so nothing is fetched
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("MUSICGEN_SOURCES_ENDPOINT", hosts.url)
    before = _served(hub, hosts)
    assert main(["download", "--lock", str(locked), "--run", *r]) == 0
    assert _served(hub, hosts) == before


def test_a_root_at_the_new_main_goes_back_to_the_locked_revision(tmp_path: Path, hub: LocalHub, locked: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    hub.add(moving(2))
    later = _root(hub, tmp_path / "later", monkeypatch)
    r = ["--root", str(later)]
    assert main(["download", "--model", MOVING, "--run", *r]) == 0
    model = repo_dir(later, "model", MOVING)
    assert (model / "notes" / "d.txt").is_file()
    hub.stats = HubStats()
    assert main(["download", "--lock", str(locked), "--run", *r]) == 0
    assert (model / "notes" / "b.txt").read_bytes() == b"b 1\n" and not (model / "notes" / "d.txt").exists()
    assert set(hub.stats.bytes_served) == {"notes/b.txt", "notes/c.txt", "data.csv"}  # not weights.bin again
    assert main(["verify", "--lock", str(locked), *r]) == 0


def test_a_revision_no_longer_served_is_refused_and_nothing_takes_its_place(
        tmp_path: Path, hub: LocalHub, locked: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub.add(moving(2))
    hub.squash("model", MOVING)  # the old commit is gone from the Hub
    empty = _root(hub, tmp_path / "third", monkeypatch)
    r = ["--root", str(empty)]
    capsys.readouterr()
    assert main(["download", "--lock", str(locked), "--run", *r]) == 1
    out = capsys.readouterr().out
    assert f"{MOVING}: FAILED" in out and "no longer served" in out and "nothing else is fetched" in out
    assert not _files_of(repo_dir(empty, "model", MOVING))  # nothing of it, and no other revision
    assert (repo_dir(empty, "dataset", STILL) / "data.csv").is_file()  # the other repos are restored
    assert "notes/d.txt" not in hub.stats.bytes_served

    capsys.readouterr()  # the plan alone says it per repo, with exit 1
    assert main(["download", "--lock", str(locked), "--json", *r]) == 1
    plan = {p["repo_id"]: p for p in json.loads(capsys.readouterr().out)["repos"]}
    assert plan[MOVING]["status"] == "revision not served"


def test_a_lock_with_a_selection_or_of_another_shape_cannot_run(tmp_path: Path, locked: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    r = ["--root", str(tmp_path / "first" / "ws")]
    assert main(["download", "--lock", str(locked), "--model", MOVING, *r]) == 2
    assert "takes no --model" in capsys.readouterr().err
    (bad := tmp_path / "bad.lock").write_text('{"version": 1, "repos": [{"repo_id": "../x"}]}')
    assert main(["download", "--lock", str(bad), *r]) == 2
    assert "bad.lock" in capsys.readouterr().err


def test_a_lock_is_restored_through_the_roots_service(tmp_path: Path, hub: LocalHub, locked: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_SERVICE_IDLE", "2")
    hub.add(moving(2))
    root = _root(hub, tmp_path / "served", monkeypatch)
    r = run_bin([bin_path("musicgen-tui"), "download", "--lock", str(locked), "--run", "--detach"], root)
    assert r.returncode == 0, r.stderr
    r = run_bin([bin_path("musicgen-tui"), "status", "--follow"], root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (repo_dir(root, "model", MOVING) / "notes" / "b.txt").read_bytes() == b"b 1\n"
    r = run_bin([bin_path("musicgen-tui"), "verify", "--lock", str(locked)], root)
    assert r.returncode == 0, r.stdout + r.stderr


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("MUSICGEN_SOURCES_ENDPOINT", "http://127.0.0.1:9")


@pytest.mark.parametrize("form", ["folder", "tar"])
def test_a_pack_is_unpacked_offline_and_the_root_matches_its_lock(
        tmp_path: Path, locked: Path, form: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "first" / "ws"
    target = tmp_path / ("pack" if form == "folder" else "carry/workspace.tar")
    args = ["pack", "--lock", str(locked), "--output", str(target), "--root", str(first)]
    assert main([*args, *(["--part-size", "16K"] if form == "tar" else [])]) == 0
    said = capsys.readouterr().out
    if form == "tar":
        parts = sorted(target.parent.glob("workspace.tar.[0-9]*"))
        assert len(parts) > 3 and all(p.stat().st_size == 16 << 10 for p in parts[:-1])
        import tarfile  # any tar reads the parts put together

        (joined := tmp_path / "joined.tar").write_bytes(b"".join(p.read_bytes() for p in parts))
        with tarfile.open(joined) as tf:
            assert tf.getnames()[0] == "musicgen.lock" and "models/acme/acme_moving/notes/c.txt" in tf.getnames()
    else:  # the same filesystem: hard links, no copy
        assert "hard links" in said
        weights = target / "files" / "models" / "acme" / "acme_moving" / "weights.bin"
        assert weights.stat().st_ino == (repo_dir(first, "model", MOVING) / "weights.bin").stat().st_ino
    _offline(monkeypatch)  # the machine it is carried to has no network
    away = tmp_path / "away"
    capsys.readouterr()
    assert main(["unpack", str(target), "--root", str(away)]) == 0, capsys.readouterr()
    assert main(["verify", "--lock", str(away / "musicgen.lock"), "--root", str(away)]) == 0
    assert "the root matches it" in capsys.readouterr().out
    assert (repo_dir(away, "dataset", NSYNTH) / "nsynth-test.jsonwav" / "nsynth-test" / "examples.json").is_file()
    assert (repo_dir(away, "model", MOVING) / "notes" / "b.txt").read_bytes() == b"b 1\n"


def test_a_pack_is_resumed_where_it_stopped(tmp_path: Path, locked: Path) -> None:
    from core.workspace.packing import pack
    from core.workspace.packs import PackError

    first = tmp_path / "first" / "ws"
    target = tmp_path / "carry" / "w.tar"
    stop = [0]

    def cut(done: int, total: int) -> None:
        stop[0] += 1
        if stop[0] == 4:
            raise PackError("cut")

    with pytest.raises(PackError):
        pack(first, locked, target, part_size=8 << 10, on_progress=cut)
    kept = {p.name: p.stat().st_mtime_ns for p in target.parent.glob("w.tar.[0-9]*")}
    assert len(kept) >= 2
    done = pack(first, locked, target, part_size=8 << 10)
    assert done.resumed >= len(kept) - 1  # the whole parts are kept, not written again
    again = {p.name: p.stat().st_mtime_ns for p in target.parent.glob("w.tar.[0-9]*")}
    assert sum(again[n] == t for n, t in kept.items()) >= done.resumed
    whole = pack(first, locked, tmp_path / "carry" / "fresh.tar", part_size=8 << 10)
    assert [p.read_bytes() for p in sorted(target.parent.glob("w.tar.[0-9]*"))] == \
        [p.read_bytes() for p in sorted(target.parent.glob("fresh.tar.[0-9]*"))]  # the very same stream
    assert whole.parts == done.parts
    gone = sorted(target.parent.glob("w.tar.[0-9]*"))[1]
    gone.unlink()  # a part lost after the pack was whole: written again, with those after it
    again = pack(first, locked, target, part_size=8 << 10)
    assert gone.is_file() and again.resumed == 1
    assert [p.read_bytes() for p in sorted(target.parent.glob("w.tar.[0-9]*"))] == \
        [p.read_bytes() for p in sorted(target.parent.glob("fresh.tar.[0-9]*"))]


def test_a_folder_pack_is_resumed_where_it_stopped(tmp_path: Path, locked: Path) -> None:
    from core.workspace.packing import pack
    from core.workspace.packs import PackError

    first, target = tmp_path / "first" / "ws", tmp_path / "pack"
    calls = [0]

    def cut(done: int, total: int) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise PackError("cut")

    with pytest.raises(PackError):
        pack(first, locked, target, on_progress=cut)
    assert not (target / "SHA256SUMS").exists()  # not whole: no manifest yet
    done = pack(first, locked, target)
    assert done.resumed == 3 and (target / "SHA256SUMS").is_file()
    again = pack(first, locked, target)  # whole: nothing read again
    assert again.resumed == again.files
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=target, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("damage", ["flip", "missing part", "cut part", "folder flip"])
def test_a_damaged_pack_is_refused_naming_the_file_and_nothing_lands(
        tmp_path: Path, locked: Path, damage: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "first" / "ws"
    folder = damage.startswith("folder")
    target = tmp_path / ("pack" if folder else "carry/w.tar")
    assert main(["pack", "--lock", str(locked), "--output", str(target), "--root", str(first),
                 *([] if folder else ["--part-size", "16K"])]) == 0
    if folder:  # a copy, so the flip does not reach the root through a hard link
        weights = target / "files" / "models" / "acme" / "acme_moving" / "weights.bin"
        data = bytearray(weights.read_bytes())
        weights.unlink()
        data[100] ^= 1
        weights.write_bytes(bytes(data))
        named = "weights.bin"
    else:
        parts = sorted(target.parent.glob("w.tar.[0-9]*"))
        hit = parts[1]
        if damage == "flip":
            data = bytearray(hit.read_bytes())
            data[9000] ^= 1
            hit.write_bytes(bytes(data))
            named = "weights.bin"
        elif damage == "missing part":
            hit.unlink()
            named = hit.name
        else:
            hit.write_bytes(hit.read_bytes()[:-10])
            named = hit.name
    _offline(monkeypatch)
    away = tmp_path / "away"
    capsys.readouterr()
    assert main(["unpack", str(target), "--root", str(away)]) == 1
    err = capsys.readouterr().err
    assert named in err and "nothing was unpacked" in err, err
    landed = [p for p in away.rglob("*") if p.is_file() and p.name != ".musicgen-tui.lock"]
    assert landed == []  # nothing marked complete: no file, no record, no lock


def test_a_pack_whose_lock_names_a_path_out_of_its_repo_is_refused(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A stranger's pack: its lock names ``../../escape``; nothing is written anywhere, the name is said."""
    import hashlib

    pack = tmp_path / "pack"
    (pack / "files" / "models").mkdir(parents=True)
    lock = json.dumps({"version": 1, "repos": [{
        "repo_id": "acme/x", "repo_type": "model", "revision": "a" * 40, "profile": "full", "include": [],
        "exclude": [], "source": None, "files": [["../../escape.txt", 5, "b" * 40]]}]}).encode()
    (pack / "musicgen.lock").write_bytes(lock)
    (pack / "SHA256SUMS").write_text(f"{hashlib.sha256(lock).hexdigest()}  musicgen.lock\n")
    (pack / "files" / "escape.txt").write_text("evil\n")
    away = tmp_path / "away"
    assert main(["unpack", str(pack), "--root", str(away)]) == 1
    err = capsys.readouterr().err
    assert "../../escape.txt" in err and "nothing was unpacked" in err
    assert not (tmp_path / "escape.txt").exists() and not (away / "models").exists()


def test_an_unpack_cut_off_goes_on_from_the_files_it_checked(
        tmp_path: Path, locked: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from core.workspace.unpacking import unpack

    first = tmp_path / "first" / "ws"
    assert main(["pack", "--lock", str(locked), "--output", str(tmp_path / "w.tar"), "--root", str(first)]) == 0
    _offline(monkeypatch)
    away = tmp_path / "away"
    calls = [0]

    def cut(done: int, total: int) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        unpack(tmp_path / "w.tar", away, on_progress=cut)
    assert not (away / "models").exists()  # nothing landed
    capsys.readouterr()
    assert main(["prune", "--dry-run", "--root", str(away)]) == 0
    assert ".musicgen-unpack/" in capsys.readouterr().out  # prune would take it, and says so
    done = unpack(tmp_path / "w.tar", away)
    assert done.resumed == 3 and not (away / ".musicgen-unpack").exists()
    assert main(["verify", "--lock", str(away / "musicgen.lock"), "--root", str(away)]) == 0


def test_an_unpack_that_would_not_fit_is_refused_before_a_byte_is_written(
        tmp_path: Path, locked: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "first" / "ws"
    assert main(["pack", "--lock", str(locked), "--output", str(tmp_path / "w.tar"), "--root", str(first)]) == 0
    monkeypatch.setenv("MUSICGEN_MIN_FREE", "1000T")  # no disk has that much to spare
    away = tmp_path / "away"
    capsys.readouterr()
    assert main(["unpack", str(tmp_path / "w.tar"), "--root", str(away)]) == 2
    assert "not enough free space" in capsys.readouterr().err
    assert not (away / "models").exists() and not (away / ".musicgen-unpack").exists()


def test_names_of_any_script_and_length_travel_in_a_tar_pack(hub: LocalHub, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``données/mélodie €.json``, ``音楽/曲.txt`` and a path past ustar's 100 bytes go as PAX records and come back."""
    long = "d" * 60 + "/" + "n" * 80 + ".txt"
    hub.add(HubRepo("acme/names", "model", [HubFile("données/mélodie €.json", '{"é": 1}\n'.encode()),
                                            HubFile("音楽/曲.txt", "音楽\n".encode()), HubFile(long, b"long\n")]))
    root = _root(hub, tmp_path / "n", monkeypatch)
    r = ["--root", str(root)]
    assert main(["download", "--model", "acme/names", "--run", *r]) == 0
    assert main(["lock", *r]) == 0
    assert main(["pack", "--output", str(tmp_path / "t.tar"), "--part-size", "1K", *r]) == 0
    _offline(monkeypatch)
    away = tmp_path / "away"
    assert main(["unpack", str(tmp_path / "t.tar"), "--root", str(away)]) == 0
    assert main(["verify", "--lock", str(away / "musicgen.lock"), "--root", str(away)]) == 0
    model = repo_dir(away, "model", "acme/names")
    assert (model / "音楽" / "曲.txt").read_text() == "音楽\n" and (model / long).read_bytes() == b"long\n"
    assert (model / "données" / "mélodie €.json").is_file()
