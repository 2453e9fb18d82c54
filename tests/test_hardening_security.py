"""Issue 26, shared roots and hostile names: planted symlinks, the socket folder, control characters in names."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import blob, repo_dir

from core.local import metadata
from core.local.lock import LOCK_NAME
from core.local.safeio import PlantedLink
from core.safety import printable
from core.service.protocol import LOG_NAME
from localhub import HubFile, HubRepo, LocalHub

VICTIM = b"my precious notes\n"
HOSTILE = ["esc\x1b[2J\x1b[Hcleared.txt", "cr\rdone    acme/x/fake.txt", "lf\nFAKE line.txt", "bidi\u202etxt.exe",
           "bell\x07c1\x9b31m.txt"]


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    v = tmp_path / "victim.txt"
    v.write_bytes(VICTIM)
    return v


def plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


def test_a_planted_lock_symlink_is_refused_with_one_line_and_its_target_untouched(cli, root: Path,
                                                                                  victim: Path) -> None:
    plant(root / LOCK_NAME, victim)
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code != 0
    assert f"refusing to write {root / LOCK_NAME}: it is a symbolic link" in r.err
    assert "Traceback" not in r.err and [line for line in r.err.splitlines() if "error" in line] == [
        f"musicgen-tui: error: {PlantedLink(root / LOCK_NAME)}"]
    assert victim.read_bytes() == VICTIM


def test_a_planted_service_log_symlink_is_refused(cli, root: Path, victim: Path) -> None:
    plant(root / LOG_NAME, victim)
    r = cli("download", "--model", "acme/tiny-model", "--run", "--detach")
    assert r.code != 0
    assert f"refusing to write {root / LOG_NAME}" in r.err
    assert victim.read_bytes() == VICTIM


def test_planted_partial_and_record_temp_symlinks_fail_that_file_only(cli, root: Path, victim: Path) -> None:
    """A partial download's name and a finished file's metadata temp name, planted: that file fails, naming
    the path; the victim is untouched; the other files of the repo arrive."""
    local = repo_dir(root, "model", "acme/tiny-model")
    etag = hashlib.sha256(blob("sd", 1_200_000)).hexdigest()  # state_dict.bin, an LFS file: its sha256
    paths = metadata.download_paths(local, "state_dict.bin")
    plant(paths.incomplete_path(etag), victim)
    meta = metadata.download_paths(local, "config.json").metadata_path
    plant(meta.with_name(meta.name + ".tmp"), victim)
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 1
    assert "it is a symbolic link" in r.err and "state_dict.bin" in r.err and "config.json" in r.err
    assert "Traceback" not in r.err
    assert victim.read_bytes() == VICTIM
    assert (local / "weights" / "model.safetensors").stat().st_size == 300_000


def test_a_planted_symlinked_folder_on_the_way_to_a_repo_is_never_written_through(cli, root: Path,
                                                                                    tmp_path: Path) -> None:
    """A neighbour makes ``models/acme`` (or ``models``) a link to your folder: nothing is written there, and the
    run says which path it refused; the other repos are not affected."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text("mine\n")
    plant(root / "models" / "acme", home)
    r = cli("download", "--model", "acme/tiny-model", "--dataset", "acme/many-files", "--include", "README.md",
            "--run")
    assert r.code == 1
    assert f"refusing to write {root / 'models' / 'acme'}: it is a symbolic link" in r.out + r.err
    assert sorted(p.name for p in home.iterdir()) == ["config.json"] and (home / "config.json").read_text() == "mine\n"
    assert (root / "datasets" / "acme_many-files" / "README.md").is_file()
    (root / "models" / "acme").unlink()
    (root / "models").rmdir()
    plant(root / "models", home)
    inv = cli("inventory")
    assert inv.code == 2 and inv.err.strip().endswith("then run again") and "Traceback" not in inv.err
    assert sorted(p.name for p in home.iterdir()) == ["config.json"]


def test_a_root_writable_by_everyone_without_the_sticky_bit_is_warned_once(cli, root: Path) -> None:
    root.chmod(0o777)
    r = cli("inventory")
    assert r.err.count("writable by every user") == 1
    root.chmod(0o1777)
    from core.local import safeio

    safeio._warned.clear()
    assert "writable by every user" not in cli("inventory").err
    root.chmod(0o777)
    import asyncio

    from core.settings import load_settings
    from tui.app import make_app

    async def go() -> list[str]:
        app = make_app(load_settings(root), background=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            return [n.message for n in app._notifications]

    assert any("writable by every user" in m for m in asyncio.run(go()))  # the app says it too
    root.chmod(0o755)


@pytest.fixture
def long_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A root whose socket path is too long for a Unix socket: its socket goes to the runtime folder."""
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    long = tmp_path / ("r" * 120)
    long.mkdir()
    yield long


@pytest.mark.parametrize("case", ["others-can-write", "other-owner", "symlink"])
def test_the_fallback_socket_folder_is_refused_unless_it_is_ours_alone(long_root: Path, tmp_path: Path,
                                                                        case: str) -> None:
    from core.local.safeio import UnsafeFolder
    from core.service.protocol import socket_path

    folder = tmp_path / "run" / f"musicgen-tui-{os.getuid()}"
    if case == "symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        folder.symlink_to(elsewhere)
    else:
        folder.mkdir(mode=0o700)
        if case == "others-can-write":
            folder.chmod(0o777)
        else:
            os.chown(folder, 4321, 4321)
    with pytest.raises(UnsafeFolder) as e:
        socket_path(long_root)
    assert str(folder) in str(e.value) and "\n" not in str(e.value)


def test_the_fallback_socket_folder_is_made_owner_only_and_reused(long_root: Path, tmp_path: Path) -> None:
    from core.service.protocol import socket_path

    first = socket_path(long_root)
    assert first.parent.stat().st_mode & 0o777 == 0o700
    assert socket_path(long_root) == first


def test_status_on_a_long_root_with_a_foreign_socket_folder_is_one_line(long_root: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    folder = tmp_path / "run" / f"musicgen-tui-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    assert main(["status", "--root", str(long_root)]) != 0
    err = capsys.readouterr().err
    assert "other users can write to it" in err and len(err.strip().splitlines()) == 1


# --- control characters in remote names -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_hub() -> Iterator[LocalHub]:
    repo = HubRepo("acme/ctrl-names", "model", [HubFile(n, b"x" * (i + 1)) for i, n in enumerate(HOSTILE)]
                   + [HubFile("fine.txt", b"fine\n")])
    with LocalHub([repo]) as hub:
        yield hub


@pytest.fixture
def hostile_root(tmp_path: Path, hostile_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    for var in ("HF_TOKEN", "MUSICGEN_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hostile_hub.url)
    monkeypatch.setenv("MUSICGEN_MIN_FREE", "0")
    return ws


def _raw(text: str) -> list[str]:
    """The control characters found in ``text`` (newlines between lines excepted)."""
    return [c for c in text if c != "\n" and not c.isprintable()]


def test_control_characters_in_names_are_escaped_on_every_screen_and_kept_in_json(
        hostile_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, "--root", str(hostile_root)])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run("download", "--model", "acme/ctrl-names", "--run")
    assert code == 0, err
    assert _raw(out + err) == []
    assert "done    acme/ctrl-names/lf\\nFAKE line.txt" in err and "bidi\\u202etxt.exe" in err
    (repo_dir(hostile_root, "model", "acme/ctrl-names") / HOSTILE[2]).write_bytes(b"y" * 3)  # damaged, same size
    for command in (("inventory",), ("verify",), ("checksums",)):
        code, out, err = run(*command)
        assert _raw(out + err) == [], command
    code, out, err = run("verify")
    assert code == 1 and "lf\\nFAKE line.txt" in out + err
    code, out, _ = run("verify", "--json")
    assert [p["path"] for p in json.loads(out)["problems"]] == [HOSTILE[2]]  # JSON keeps the exact name
    inventory = json.loads((hostile_root / "models" / "inventory.json").read_text())
    assert set(HOSTILE) <= {f["path"] for r in inventory["repos"] for f in r["files"]}


def test_printable_escapes_controls_and_bidi_and_keeps_other_text() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("x\ny\rz\tw") == "x\\ny\\rz\\tw"
    assert printable("\u202eexe.txt") == "\\u202eexe.txt"
    assert printable("\x9b\x7f") == "\\x9b\\x7f"
    assert printable("données/mélodie €.json 音楽") == "données/mélodie €.json 音楽"


def test_the_apps_cells_and_log_lines_never_carry_a_control_character(tmp_path: Path) -> None:
    import logging

    from tui.format import plain, styled
    from tui.logfile import log, log_to

    for name in HOSTILE:
        assert _raw(plain(name)) == [] and _raw(styled(name, "red")) == []
    log_to(tmp_path / "app.log")
    log.error("failed %s", "lf\nFAKE 2026 ERROR forged")
    for h in log.handlers:
        h.flush()
    lines = (tmp_path / "app.log").read_text().splitlines()
    assert len(lines) == 1 and "lf\\nFAKE" in lines[0]
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    del logging


# --- settings and the root (item 18, and item 14's --root before the command) -------------------------------------

@pytest.mark.parametrize(("name", "value", "accepted"), [
    ("MUSICGEN_RETRIES", "abc", "a whole number from 1 to 100"),
    ("MUSICGEN_READ_TIMEOUT", "-5", "a number above 0"),
    ("MUSICGEN_CONNECTIONS", "0", "from 1 to 64"),
    ("MUSICGEN_MIN_FREE", "lots", "a size like 1G"),
    ("MUSICGEN_SERVICE_IDLE", "nan", "from 0 up"),
    ("MUSICGEN_SEGMENT_MIN", "0", "a size above 0"),
    ("HF_ENDPOINT", "localhost:8080", "an http:// or https:// URL"),
])
def test_a_bad_setting_is_one_line_naming_it_its_value_and_what_is_accepted(
        cli, monkeypatch: pytest.MonkeyPatch, name: str, value: str, accepted: str) -> None:
    monkeypatch.setenv(name, value)
    for command in (("download", "--model", "acme/tiny-model", "--run"), ("verify",), ("status",)):
        r = cli(*command)
        assert r.code == 2
        assert r.err.startswith(f"musicgen-tui: error: bad setting: {name}={value!r} is not accepted: ")
        assert accepted in r.err
        assert len(r.err.splitlines()) == 1


def test_a_root_that_is_a_file_is_one_line_and_a_missing_root_is_created_and_said(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    (tmp_path / "afile").write_text("x")
    assert main(["inventory", "--root", str(tmp_path / "afile")]) == 2
    assert capsys.readouterr().err == (f"musicgen-tui: error: the workspace root {tmp_path / 'afile'} is not a "
                                       "folder: give --root (or MUSICGEN_ROOT) a folder\n")
    new = tmp_path / "new" / "ws"
    assert main(["inventory", "--root", str(new)]) == 0
    assert f"musicgen-tui: created the workspace root {new}\n" in capsys.readouterr().err
    assert new.is_dir()


def test_root_given_before_the_command_is_the_one_used(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    assert main(["--root", str(root), "inventory"]) == 0
    capsys.readouterr()
    assert (root / "models" / "inventory.json").exists()
    elsewhere = root.parent / "elsewhere"
    assert main(["--root", str(elsewhere), "inventory", "--root", str(root)]) == 0  # the command's own wins
    assert not elsewhere.exists()


# --- API answers that inflate (item 4) -------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["/api/models/acme/tiny-model/tree/*", "/api/models/acme/tiny-model"])
def test_an_api_answer_that_inflates_past_the_cap_fails_that_repo_with_one_line(cli, hub: LocalHub, root: Path,
                                                                                 where: str) -> None:
    import resource

    from localhub import Fault

    hub.inject(Fault("bomb", where, at="api", after_bytes=100 << 20, times=100))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = cli("download", "--model", "acme/tiny-model", "--model", "acme/big-file", "--run")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    assert r.code == 1
    assert "over 64 MiB once decompressed: refused" in r.out + r.err and "acme/tiny-model" in r.out + r.err
    assert "Traceback" not in r.err
    assert grown < 90 << 10  # short of the 100 MiB the answer inflates to
    assert (repo_dir(root, "model", "acme/big-file") / "small.txt").is_file()  # the other repo is fetched
    hub.clear_faults()


# --- names the file system takes, suffixes included (item 5) ---------------------------------------------------

def test_names_too_long_for_their_download_record_are_refused_when_planning_and_the_others_arrive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    names = {"a" * 238 + ".bin": True, "b" * 239 + ".bin": False, "c" * 251 + ".bin": False,
             "é" * 119 + ".txt": True, "é" * 120 + ".txt": False, "ok.txt": True}
    repo = HubRepo("acme/long-names", "model", [HubFile(n, n.encode()[:10]) for n in names])
    with LocalHub([repo]) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("MUSICGEN_MIN_FREE", "0")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        code = main(["download", "--model", "acme/long-names", "--run", "--root", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    assert out.out.count("a file name longer than 242 bytes") == 6  # in the plan, then in the results
    assert all(n in out.out for n, ok in names.items() if not ok)
    folder = repo_dir(tmp_path, "model", "acme/long-names")
    assert sorted(p.name for p in folder.iterdir() if p.name != ".cache") == sorted(n for n, ok in names.items() if ok)
    assert not list(folder.rglob("*.incomplete"))
