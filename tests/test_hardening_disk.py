"""Issue 26, the disk side: stale temp files of a killed run, damaged internal records, read-only roots."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from localhub import LocalHub

KILLED_WRITER = """
import os, sys
from pathlib import Path

from localhub import LocalHub
from core.local.safeio import create_temp
fd, tmp = create_temp(Path(sys.argv[1]))
os.write(fd, b'{"half": ')
print(tmp, flush=True)
os.kill(os.getpid(), 9)
"""


def killed_mid_write(target: Path) -> Path:
    """A temp file beside ``target`` as an export killed mid-write leaves it."""
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert r.returncode == -9
    tmp = Path(r.stdout.strip())
    assert tmp.is_file()
    return tmp


def test_a_kill_during_export_leaves_temp_files_the_next_export_removes(cli, root: Path) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert cli("inventory").code == 0
    stale = [killed_mid_write(root / "models" / "inventory.json"),
             killed_mid_write(root / "inventory" / "combined_inventory.json")]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = root / "models" / f".inventory.json.{live.pid}-0123456789ab.tmp"  # a writer still at work
        busy.write_text("{")
        r = cli("inventory")
        assert r.code == 0
        assert not any(p.exists() for p in stale)
        assert busy.exists()
    finally:
        live.kill()
        live.wait()
    r = cli("checksums")
    assert r.code == 0
    assert not [p for p in root.rglob(".*.tmp") if p != busy]


# --- damaged internal records (item 8) --------------------------------------------------------------------------

def _one_error_free_run(r) -> None:  # type: ignore[no-untyped-def]
    """No traceback, no raw exception: at most one line a damaged record, saying it is made again."""
    assert "Traceback" not in r.err and not re.search(r"(AttributeError|TypeError):", r.err), r.err
    said = [line for line in r.err.splitlines() if "unreadable" in line]
    assert all(line.startswith("musicgen-tui: ") and line.endswith("treated as absent and made again")
               for line in said), said
    assert len(said) == len(set(said))


@pytest.mark.parametrize("connections", ["4", "1"])
@pytest.mark.parametrize("state", [b"[1, 2, 3]", b'"text"', b'{"version": 1, "ranges": 5}', b"\xff\xfe"])
def test_a_damaged_segment_record_is_read_as_absent_and_the_file_arrives(
        cli, root: Path, monkeypatch: pytest.MonkeyPatch, state: bytes, connections: str) -> None:
    import hashlib

    from conftest import BIG_SIZE, blob, repo_dir

    from core.local import metadata
    from core.local.partials import segmented_paths

    monkeypatch.setenv("MUSICGEN_SEGMENT_MIN", "1M")
    monkeypatch.setenv("MUSICGEN_CONNECTIONS", connections)
    body = blob("big", BIG_SIZE)
    local = repo_dir(root, "model", "acme/big-file")
    incomplete = metadata.download_paths(local, "big.bin").incomplete_path(hashlib.sha256(body).hexdigest())
    data, record = segmented_paths(incomplete)
    data.parent.mkdir(parents=True)
    data.write_bytes(body[:100_000])
    record.write_bytes(state)
    r = cli("download", "--model", "acme/big-file", "--run")
    _one_error_free_run(r)
    assert f"musicgen-tui: {record} was unreadable" in r.err
    assert r.code == 0
    assert (local / "big.bin").read_bytes() == body


def test_damaged_caches_and_records_are_derived_again_without_a_traceback(cli, root: Path) -> None:
    import marshal

    from conftest import repo_dir

    from core.local.hashcache import CACHE_FORMAT, CACHE_NAME
    from core.local.listings import CACHE_DIR
    from core.local.metadata import hf_dir
    from core.local.record import PLANNED_CACHE, PLANNED_FORMAT, RECORD_NAME

    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert cli("verify").code == 0
    meta = hf_dir(repo_dir(root, "model", "acme/tiny-model"))
    st = (meta / RECORD_NAME).stat()
    key = (st.st_size, st.st_mtime_ns, st.st_ino)
    for hashes, planned in [
        (marshal.dumps((CACHE_FORMAT, {"": (1, 2, 3)})),
         marshal.dumps((PLANNED_FORMAT, key, "model", "x/y", "c", {"": "x"}))),
        (marshal.dumps((CACHE_FORMAT, ["not", "a", "dict"])),
         marshal.dumps((PLANNED_FORMAT, key, "model", "x/y", "c", {"": ("a", b"odd", "b")}))),
        (b"\x00garbage", b"\x00garbage"),
    ]:
        (meta / CACHE_NAME).write_bytes(hashes)
        (meta / PLANNED_CACHE).write_bytes(planned)
        for command in ("verify", "inventory"):
            r = cli(command)
            _one_error_free_run(r)
            assert r.code == 0, (command, r.err)
        assert marshal.loads((meta / CACHE_NAME).read_bytes())[1][""][0]  # made again, of the right shape
    for listing in root.joinpath(CACHE_DIR).rglob("*.json"):
        listing.write_text("[1, 2]")
    (meta / RECORD_NAME).write_text('["not", "an", "object"]')
    r = cli("download", "--model", "acme/tiny-model", "--run")  # an unreadable record: the files are checked again
    _one_error_free_run(r)
    assert r.code == 0
    assert cli("verify").code == 0


# --- a read-only root (item 10) ---------------------------------------------------------------------------------

def _read_only(ws: Path, view: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``musicgen-tui ARGS`` on a read-only view of ``ws`` (a bind mount in a mount namespace of its own, so
    nothing is left mounted; a real read-only file system: EROFS even for root)."""
    import shlex

    from conftest import bin_path, subprocess_env

    view.mkdir(exist_ok=True)
    script = (f"mount --bind {shlex.quote(str(ws))} {shlex.quote(str(view))} && "
              f"mount -o remount,bind,ro {shlex.quote(str(view))} && "
              f"exec {shlex.quote(bin_path('musicgen-tui'))} {shlex.join(args)} --root {shlex.quote(str(view))}")
    return subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", script], capture_output=True,
                          text=True, env=subprocess_env(view), timeout=120)


def test_verify_and_inventory_work_on_a_read_only_root_and_exit_codes_tell_problems_from_could_not_run(
        cli, root: Path, tmp_path: Path) -> None:
    from conftest import repo_dir

    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    view = tmp_path / "ro"
    v = _read_only(root, view, "verify")
    assert v.returncode == 0, v.stderr
    assert "8 OK" in v.stdout and "8 files checked" in v.stdout
    assert v.stderr.count("cannot be written") == 1 and "Errno" not in v.stderr
    inv = _read_only(root, view, "inventory")
    assert inv.returncode == 0, inv.stderr
    assert "acme/tiny-model" in inv.stdout and "shown, not written" in inv.stderr
    assert json.loads(_read_only(root, view, "inventory", "--json").stdout)["totals"]["all"]["repos"] == 1
    assert not (root / "models" / "inventory.json").exists()  # nothing was written
    (repo_dir(root, "model", "acme/tiny-model") / "config.json").write_text("damaged\n")
    v = _read_only(root, view, "verify")
    assert v.returncode == 1 and "PARTIAL  acme/tiny-model: config.json" in v.stdout  # problems found
    c = _read_only(root, view, "checksums", "--min-size", "0")
    assert c.returncode == 2 and "cannot be written" in c.stderr and "Traceback" not in c.stderr  # could not run


def test_each_command_documents_its_exit_codes(cli, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import COMMANDS, build_parser

    for name in COMMANDS:
        with pytest.raises(SystemExit):
            build_parser().parse_args([name, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "exit status: 0" in text, name
        assert "2 could not run" in text, name
    assert "1 problems found" in " ".join(build_parser()._subparsers._group_actions[0].choices["verify"]
                                          .format_help().split())


# --- segmented partials seen by sizes, the plan and verify; a longer one cut to size (item 7) ----------------------

def _segmented_partial(root: Path, have: int, extra: bytes = b"") -> tuple[bytes, Path]:
    """A segmented partial of acme/big-file's big.bin with its first ``have`` bytes, recorded as a run on this
    machine leaves it (and ``extra`` bytes past the file's end)."""
    import hashlib

    from conftest import BIG_SIZE, blob, repo_dir

    from core.local import metadata
    from core.local.partials import STATE_VERSION, boot_id, segmented_paths

    body = blob("big", BIG_SIZE)
    etag = hashlib.sha256(body).hexdigest()
    local = repo_dir(root, "model", "acme/big-file")
    data, state = segmented_paths(metadata.download_paths(local, "big.bin").incomplete_path(etag))
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(body[:have] + extra)
    half = BIG_SIZE // 2
    ranges = [[0, half, min(have, half), min(have, half)], [half, BIG_SIZE, max(0, have - half), max(0, have - half)]]
    state.write_text(json.dumps({"version": STATE_VERSION, "size": BIG_SIZE, "etag": etag, "boot": boot_id(),
                                 "ranges": ranges}))
    return body, local


def test_a_segmented_partial_counts_in_the_plan_and_in_verify(cli, root: Path, hub: LocalHub,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import BIG_SIZE

    from localhub import Fault

    monkeypatch.setenv("MUSICGEN_SEGMENT_MIN", "1M")
    monkeypatch.setenv("MUSICGEN_RETRIES", "1")
    hub.inject(Fault("status", "big.bin", status=503, times=100))
    assert cli("download", "--model", "acme/big-file", "--run").code == 1  # recorded; big.bin not fetched
    hub.clear_faults()
    _segmented_partial(root, 3 << 20)
    plan = cli("download", "--model", "acme/big-file", "--json").json()
    repo = plan["repos"][0]
    assert repo["bytes_to_fetch"] == BIG_SIZE - (3 << 20)  # the rest of big.bin (small.txt arrived)
    v = cli("verify", "--model", "acme/big-file", "--json").json()
    big = next(p for p in v["problems"] if p["path"] == "big.bin")
    assert big["status"] == "PARTIAL" and big["detail"] == f"{3 << 20} of {BIG_SIZE} bytes downloaded"


def test_a_segmented_partial_longer_than_the_file_is_finished_at_its_size(cli, root: Path, hub: LocalHub,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import BIG_SIZE

    monkeypatch.setenv("MUSICGEN_SEGMENT_MIN", "1M")
    body, local = _segmented_partial(root, BIG_SIZE, extra=b"trailing garbage" * 1000)
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.err
    assert (local / "big.bin").read_bytes() == body
    assert cli("verify", "--model", "acme/big-file").code == 0


# --- a selection that matches nothing (item 9) ------------------------------------------------------------------

def test_patterns_that_match_no_file_say_so_create_nothing_and_exit_1(cli, root: Path) -> None:
    from conftest import repo_dir

    r = cli("download", "--model", "acme/tiny-model", "--include", "*.onnx", "--exclude", "*.md", "--run")
    assert r.code == 1
    line = next(x for x in r.out.splitlines() if "nothing matched" in x)
    assert "--include '*.onnx' --exclude '*.md' chose none of its 8 files (it has README.md, config.json," in line
    assert not repo_dir(root, "model", "acme/tiny-model").exists()
    assert cli("inventory").code == 0
    inventory = json.loads((root / "models" / "inventory.json").read_text())
    assert inventory["repos"] == []
    plan = cli("download", "--model", "acme/tiny-model", "--include", "nothing*", "--json")
    assert plan.code == 1 and plan.json()["repos"][0]["status"] == "error"


def test_verify_counts_files_once_and_the_checksum_lines_apart(cli, root: Path) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert cli("checksums", "--min-size", "0").code == 0
    lines = (root / "models" / "checksums.sha256").read_text().count("\n")
    v = cli("verify")
    assert v.code == 0
    assert f"8 OK, 0 mismatch, 0 missing, 0 partial (8 files checked, and {lines} lines of the checksum files)" \
        in v.out
    counts = json.loads(cli("verify", "--json").out)["counts"]
    assert counts["checked"] == counts["ok"] == 8 and counts["checksum_lines"] == lines


def test_the_checksum_size_is_a_setting_and_an_export_without_checksum_files_says_why(
        cli, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from core.settings import load_settings
    from tui.app import make_app

    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert "no files over 100M: no checksum file written" in cli("checksums").out
    monkeypatch.setenv("MUSICGEN_CHECKSUM_MIN", "1K")
    assert "wrote models/checksums.sha256: 2 files" in cli("checksums").out.replace(str(root) + "/", "")
    monkeypatch.setenv("MUSICGEN_CHECKSUM_MIN", "100M")
    notes: list[str] = []

    async def go() -> None:
        app = make_app(load_settings(root), background=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("e")
            for _ in range(200):
                await pilot.pause(0.05)
                if app.inventory_pane.note:
                    break
            notes.append(app.inventory_pane.note)

    asyncio.run(go())
    assert "no checksum file: no file is over 100M (MUSICGEN_CHECKSUM_MIN)" in notes[0]


# --- a re-verify with checksum files stays a stat walk (item 13) ------------------------------------------------

def test_a_second_verify_with_checksum_files_hashes_nothing(cli, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The small (git-blob) files a checksum file lists get their sha256 remembered like the LFS files' own: the
    second verify of an unchanged tree reads no file; a file touched since is read again, alone."""
    from conftest import repo_dir

    from core.local import verify

    hashed: list[str] = []
    real = verify.hash_many

    def counting(jobs, *args, **kwargs):  # type: ignore[no-untyped-def]
        hashed.extend(path for path, _algorithm, _size in jobs)
        return real(jobs, *args, **kwargs)

    monkeypatch.setattr(verify, "hash_many", counting)
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert cli("checksums", "--min-size", "0").code == 0
    first = cli("verify")
    assert first.code == 0 and hashed  # the small files' sha256, once
    hashed.clear()
    second = cli("verify")
    assert second.code == 0 and "lines of the checksum files" in second.out
    assert hashed == []
    config = repo_dir(root, "model", "acme/tiny-model") / "config.json"
    config.write_bytes(config.read_bytes())  # the same bytes, a new mtime: read again, and only it
    assert cli("verify").code == 0
    assert sorted({Path(p).name for p in hashed}) == ["config.json"]


def test_a_hash_cache_of_the_previous_format_is_kept_not_hashed_again(cli, root: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Format 2 (no sha256s of git-blob files) is read as format 3 with none known: an upgrade re-reads no file."""
    import marshal

    from conftest import repo_dir

    from core.local import verify
    from core.local.hashcache import CACHE_NAME
    from core.local.metadata import hf_dir

    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    assert cli("verify").code == 0
    cache = hf_dir(repo_dir(root, "model", "acme/tiny-model")) / CACHE_NAME
    fmt, folders = marshal.loads(cache.read_bytes())
    cache.write_bytes(marshal.dumps((fmt - 1, {k: v[:3] for k, v in folders.items()})))
    hashed: list[object] = []
    real = verify.hash_many
    monkeypatch.setattr(verify, "hash_many", lambda jobs, *a, **k: (hashed.extend(jobs), real(jobs, *a, **k))[1])
    assert cli("verify").code == 0
    assert hashed == []
