"""Big files over several ranged connections (``MUSICGEN_CONNECTIONS``, from ``MUSICGEN_SEGMENT_MIN`` on), against
the local Hub's CDN: whole and verified, resumed range by range, polite, and never trusting a range's bytes
without the file's hash."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIG_SIZE, bin_path, repo_dir, subprocess_env

from localhub import Fault, LocalHub

BIG = ("model", "acme/big-file")


@pytest.fixture
def ranged(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The 4 MiB file of the test Hub counts as big: four ranges of 1 MiB."""
    monkeypatch.setenv("MUSICGEN_SEGMENT_MIN", "1M")
    monkeypatch.setenv("MUSICGEN_CONNECTIONS", "4")
    return root


def big_bytes(hub: LocalHub) -> bytes:
    return hub.repos[BIG].get("big.bin").read()  # type: ignore[union-attr]


def folder(root: Path) -> Path:
    return repo_dir(root, *BIG)


def leftovers(root: Path) -> list[str]:
    return [p.name for p in folder(root).rglob("*") if p.name.endswith((".incomplete", ".json", ".tmp"))
            and "segmented" in p.name]


def test_a_big_file_comes_in_ranges_from_the_cdn_whole_and_hashed(ranged: Path, hub: LocalHub, cli) -> None:
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] == BIG_SIZE  # each byte once
    assert hub.stats.requests["cdn"] >= 4 and hub.stats.requests["cdn-auth"] == 0  # ranges, and no token there
    assert leftovers(ranged) == []
    r = cli("verify", "--full")
    assert r.code == 0, r.out


def test_a_server_that_ignores_range_gets_one_stream_and_nothing_corrupt(ranged: Path, hub: LocalHub,
                                                                          cli) -> None:
    hub.inject(Fault("ignore-range", "big.bin", times=1000))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert leftovers(ranged) == []


def test_an_expired_link_is_resolved_again_and_its_range_goes_on(ranged: Path, hub: LocalHub, cli) -> None:
    hub.inject(Fault("expire", "big.bin", times=1))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert hub.stats.requests["HEAD"] >= 2  # resolved once more after the 403
    assert hub.stats.bytes_served["big.bin"] == BIG_SIZE


def test_a_reset_mid_range_resumes_that_range_only(ranged: Path, hub: LocalHub, cli) -> None:
    hub.inject(Fault("reset", "big.bin", after_bytes=300_000, times=2))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] <= 1.10 * BIG_SIZE


def test_a_corrupted_range_is_caught_by_the_hash_and_fetched_again(ranged: Path, hub: LocalHub, cli) -> None:
    hub.inject(Fault("corrupt", "big.bin", after_bytes=100))
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert "mismatch" in r.err  # seen, said, and the file fetched again
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert leftovers(ranged) == []


def test_kill_mid_download_then_a_new_run_fetches_only_the_missing_ranges(ranged: Path, hub: LocalHub,
                                                                           cli) -> None:
    hub.inject(Fault("slow", "big.bin", times=1000, delay=0.01))  # 4 KiB each 10 ms a range: about 2.5 s
    proc = subprocess.Popen([bin_path("musicgen-tui"), "download", "--model", "acme/big-file", "--run"],
                            env=subprocess_env(ranged), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = list(folder(ranged).rglob("*.segmented.json"))
            if states and sum(r[2] for r in json.loads(states[0].read_text())["ranges"]) >= 1 << 20:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("no range progress was recorded")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    ranges = json.loads(states[0].read_text())["ranges"]
    assert len(ranges) == 4 and sum(r[2] for r in ranges) >= 1 << 20  # what the record counts is kept
    hub.clear_faults()
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] <= 1.10 * BIG_SIZE
    assert leftovers(ranged) == []


def test_one_connection_turns_ranges_off_and_keeps_a_segmented_partials_first_bytes(
        ranged: Path, hub: LocalHub, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.inject(Fault("reset", "big.bin", after_bytes=600_000, times=4))  # each range stops part-way
    monkeypatch.setenv("MUSICGEN_RETRIES", "1")
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 1  # given up: the ranges' bytes are kept
    assert leftovers(ranged)
    monkeypatch.setenv("MUSICGEN_CONNECTIONS", "1")
    monkeypatch.setenv("MUSICGEN_RETRIES", "3")
    hub.clear_faults()
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] <= BIG_SIZE + 4 * 600_000 - 600_000 + 1000  # the first range's kept
    assert leftovers(ranged) == []


def test_the_app_shows_a_big_files_connections_and_one_row_for_it(tmp_path: Path, hub: LocalHub) -> None:
    import asyncio

    from core.repos import RepoRef
    from core.settings import Settings
    from tui.app import make_app
    from tui.select_pane import Entry

    hub.inject(Fault("slow", "big.bin", times=1000, delay=0.01))
    seen: set[str] = set()

    async def go() -> None:
        settings = Settings(root=tmp_path, endpoint=hub.url, min_free=0, connections=4, segment_min=1 << 20)
        app = make_app(settings, background=False)
        async with app.run_test(size=(120, 40)) as pilot:
            app.entries["model:acme/big-file"] = Entry(RepoRef("model", "acme/big-file"), selected=True)
            await pilot.press("d")
            for _ in range(600):
                await pilot.pause(0.05)
                summary = str(app.downloads_pane.query_one("#dl-summary").render())
                seen.update(w for w in ("4 connections", "5 connections") if w in summary)
                if not app.downloading:
                    break
            assert [r.path for r in app.downloads_pane.rows.values() if r.path == "big.bin"] == ["big.bin"]
            assert "finished" in app.downloads_pane.note

    asyncio.run(go())
    assert seen  # 4 ranges of big.bin (and small.txt's stream, while it lasts)
    assert (repo_dir(tmp_path, *BIG) / "big.bin").read_bytes() == big_bytes(hub)


def test_a_record_is_kept_with_untouched_pieces_and_refused_when_it_claims_more_than_the_file(
        tmp_path: Path) -> None:
    import threading

    from core.hub.segments import SegmentedAttempt, plan_ranges
    from core.local.partials import boot_id, segmented_paths
    from core.remote import RemoteFile

    mib = 1 << 20
    assert [(r.start, r.end) for r in plan_ranges(40 * mib, 2)] == [(i * 8 * mib, (i + 1) * 8 * mib) for i in range(5)]
    incomplete = tmp_path / "x.etag.incomplete"
    data, state = segmented_paths(incomplete)
    remote = RemoteFile("x", 4 * mib, "", "e" * 64)

    def load(ranges: list[list[int]], have: int, boot: str) -> list[int]:
        data.write_bytes(b"\1" * have)
        state.write_text(json.dumps({"version": 2, "size": 4 * mib, "etag": "e" * 64, "boot": boot,
                                     "ranges": ranges}))
        attempt = SegmentedAttempt(remote, incomplete, threading.Event(), lambda *a: None, connections=2,
                                   retries=1, endpoint="http://x")
        return [r.done for r in attempt._load()]

    # [start, end, written, flushed]
    pieces = [[0, mib, mib, mib], [mib, 2 * mib, mib // 2, 0], [2 * mib, 3 * mib, 0, 0], [3 * mib, 4 * mib, 0, 0]]
    # pieces not begun are no reason to start over; the bytes written count while the machine has not restarted
    assert load(pieces, mib + mib // 2, boot_id()) == [mib, mib // 2, 0, 0]
    assert load(pieces, mib + mib // 2, "another boot") == [mib, 0, 0, 0]  # after a restart, only flushed bytes
    assert load(pieces, mib, boot_id()) == [0, 0]  # it claims bytes the file lacks: not trusted, nothing kept
    assert data.stat().st_size == 0


def test_stopping_the_service_keeps_every_range_and_the_next_run_fetches_the_rest(ranged: Path, hub: LocalHub,
                                                                                   cli) -> None:
    from core.service import client as service

    hub.inject(Fault("slow", "big.bin", times=1000, delay=0.01))
    with service.ensure(ranged) as client:
        client.raw({"op": "submit", "repos": [["model", "acme/big-file"]]})
    deadline = time.monotonic() + 30
    while not list(folder(ranged).rglob("*.segmented.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert service.stop(ranged)
    state = next(folder(ranged).rglob("*.segmented.json"))
    ranges = json.loads(state.read_text())["ranges"]
    kept = sum(r[2] for r in ranges)
    assert [r[3] for r in ranges] == [r[2] for r in ranges]  # a stop flushes what it records
    served = hub.stats.bytes_served["big.bin"]
    assert 0 < kept < BIG_SIZE and kept >= served - 4 * 64 * 1024  # all that arrived, but what was in flight
    hub.clear_faults()
    r = cli("download", "--model", "acme/big-file", "--run")
    assert r.code == 0, r.out + r.err
    assert (folder(ranged) / "big.bin").read_bytes() == big_bytes(hub)
    assert hub.stats.bytes_served["big.bin"] - served == BIG_SIZE - kept  # only what was missing
