"""The app driven with Textual's pilot against the local Hub: the whole flow, keys only."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from conftest import repo_dir, sources_settings, tree_bytes
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from cli.main import main
from core.settings import Settings
from localhub import Fault, LocalHub
from tui.app import MusicgenApp, make_app

SMALL = ("model", "facebook/musicgen-small")
SIZE = (120, 40)


def app_for(root: Path, hub: LocalHub, *, publishers: bool = True) -> MusicgenApp:
    """The app on ``hub``; the off-Hub ids from the session's look-alike hosts, or (``publishers`` False) from a
    host that has none of them (the Hub itself answers 404), so they are not on this endpoint nor to be had."""
    sources = sources_settings() if publishers else {"sources_endpoint": hub.url}
    return make_app(Settings(root=root, endpoint=hub.url, min_free=0, read_timeout=5, retries=3, **sources))


async def until(pilot: Pilot[int], cond: Callable[[], bool], timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def run(root: Path, hub: LocalHub, script: Callable[[MusicgenApp, Pilot[int]], Awaitable[None]], *,
        publishers: bool = True) -> MusicgenApp:
    async def go() -> MusicgenApp:
        app = app_for(root, hub, publishers=publishers)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            await script(app, pilot)
        return app

    return asyncio.run(go())


async def tick(app: MusicgenApp, pilot: Pilot[int], *repo_ids: str) -> None:
    for repo_id in repo_ids:
        key = next(k for k, e in app.entries.items() if e.ref.repo_id == repo_id)
        app.select_pane.move_to(key)
        await pilot.press("space")
        assert app.entries[key].selected


async def download(app: MusicgenApp, pilot: Pilot[int]) -> None:
    await pilot.press("d")
    assert app.current_pane == "downloads"
    await until(pilot, lambda: not app.downloading)


def states(app: MusicgenApp, repo_id: str) -> dict[str, str]:
    return {r.path: r.state for r in app.downloads_pane.rows.values() if r.repo_id == repo_id}


def test_cursor_starts_on_first_entry(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        assert app.select_pane.current_key() == "model:facebook/musicgen-small"
        assert app.entries["model:facebook/musicgen-small"].size_cell() == "114.0 KiB"
        assert app.entries["model:facebook/musicgen-medium"].size_cell() == "needs token"
        await pilot.press("down", "space")
        assert app.entries["model:facebook/musicgen-medium"].selected

    run(tmp_path, catalog_hub, script)


def test_select_two_repos_download_and_see_rows_done(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "facebook/musicgen-small", "facebook/encodec_32khz")
        await download(app, pilot)
        small, codec = states(app, "facebook/musicgen-small"), states(app, "facebook/encodec_32khz")
        assert len(small) == 13 and set(small.values()) == {"done"}
        assert len(codec) == 6 and set(codec.values()) == {"done"}
        assert "finished" in app.downloads_pane.note
        await until(pilot, lambda: app.entries["model:facebook/musicgen-small"].local == "complete")

    run(tmp_path, catalog_hub, script)
    assert (repo_dir(tmp_path, *SMALL) / "state_dict.bin").is_file()
    assert (repo_dir(tmp_path, "model", "facebook/encodec_32khz") / "model.safetensors").is_file()


def test_verify_ok_then_damage_shows_mismatch(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "facebook/musicgen-small")
        await download(app, pilot)
        await pilot.press("v")
        assert app.current_pane == "verify"
        await until(pilot, lambda: "all files match" in str(app.verify_pane.query_one("#verify-summary").render()))
        assert set(app.verify_pane.status.values()) == {"OK"}
        assert app.entries["model:facebook/musicgen-small"].local == "verified"
        target = repo_dir(tmp_path, *SMALL) / "state_dict.bin"
        data = bytearray(target.read_bytes())
        data[100] ^= 0xFF
        target.write_bytes(bytes(data))
        await pilot.press("v")
        await until(pilot, lambda: "PROBLEMS FOUND" in str(app.verify_pane.query_one("#verify-summary").render()))
        assert app.verify_pane.status[("model", "facebook/musicgen-small", "state_dict.bin")] == "MISMATCH"
        table = app.verify_pane.table
        assert Text.from_markup(table.get_row_at(0)[0]).plain.startswith("MISMATCH")  # problems sort to the top
        assert app.entries["model:facebook/musicgen-small"].local == "failed"

    run(tmp_path, catalog_hub, script)


def test_export_writes_the_three_inventories(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "google/MusicCaps")
        await download(app, pilot)
        await pilot.press("e")
        await until(pilot, lambda: "exported" in app.inventory_pane.note)
        await pilot.press("3")
        await until(pilot, lambda: "datasets/google_MusicCaps" in app.inventory_pane.repos)

    run(tmp_path, catalog_hub, script)
    for rel in ("models/inventory.json", "datasets/inventory.json", "inventory/combined_inventory.json"):
        assert (tmp_path / rel).is_file(), rel


def test_export_during_a_download_names_the_repos_still_in_flight(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "google/MusicCaps")  # not a repo the other tests count served bytes of: the
        catalog_hub.inject(Fault("slow", "*", times=100, delay=0.3))  # slow bodies go on after the cancel
        await pilot.press("d")
        await until(pilot, lambda: any(r.state == "downloading" for r in app.downloads_pane.rows.values()))
        await pilot.press("e")
        await until(pilot, lambda: "exported" in app.inventory_pane.note)
        assert "still downloading: google/MusicCaps" in app.inventory_pane.note
        await pilot.press("c")
        await until(pilot, lambda: not app.downloading)
        catalog_hub.clear_faults()

    run(tmp_path, catalog_hub, script)
    assert (tmp_path / "inventory" / "combined_inventory.json").is_file()


def test_two_apps_on_a_busy_service_show_its_downloads_at_once_and_either_cancels(tmp_path: Path,
                                                                                  catalog_hub: LocalHub) -> None:
    from core.service import client as service

    catalog_hub.inject(Fault("slow", "*", times=1000, delay=1.0))  # 103 small files, 8 at a time: 13 s
    settings = app_for(tmp_path, catalog_hub).settings
    with service.ensure(tmp_path, settings) as client:  # a download handed over elsewhere (the CLI, a closed app)
        client.raw({"op": "submit", "repos": [["dataset", "marsyas/gtzan"]]})

    async def go() -> tuple[MusicgenApp, MusicgenApp]:
        first, second = app_for(tmp_path, catalog_hub), app_for(tmp_path, catalog_hub)
        async with first.run_test(size=SIZE) as one, second.run_test(size=SIZE) as two:
            for app, pilot in ((first, one), (second, two)):
                await until(pilot, lambda app=app: app.downloading and any(  # type: ignore[misc]
                    r.state == "downloading" and r.repo_id == "marsyas/gtzan"
                    for r in app.downloads_pane.rows.values()))
            await one.press("2", "c")
            for app, pilot in ((first, one), (second, two)):
                await until(pilot, lambda app=app: not app.downloading)  # type: ignore[misc]
                assert "cancelled" in app.downloads_pane.note
                rows = app.downloads_pane.rows.values()
                assert not any(r.state in ("queued", "downloading", "verifying") for r in rows)  # none left hanging
                cancelled = sum(1 for r in rows if r.state == "cancelled")
                assert cancelled > 0
                summary = app.downloads_pane.query_one("#dl-summary", Static)
                await until(pilot, lambda s=summary: " 0 active" in str(s.render()))  # type: ignore[misc]
                assert f"0 queued · {sum(1 for r in rows if r.state in ('done', 'skipped'))} done · 0 failed · " \
                       f"{cancelled} cancelled" in str(summary.render())
            assert {k: r.state for k, r in first.downloads_pane.rows.items()} == \
                {k: r.state for k, r in second.downloads_pane.rows.items()}
        return first, second

    first, second = asyncio.run(go())
    assert first.farewell == second.farewell == ""  # nothing left running when they closed
    catalog_hub.clear_faults()


def test_cancel_mid_download_then_resume(tmp_path: Path, catalog_hub: LocalHub) -> None:
    size = catalog_hub.repos[SMALL].get("model.safetensors").size  # type: ignore[union-attr]

    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "facebook/musicgen-small")
        catalog_hub.inject(Fault("slow", "*", times=100, delay=0.3))
        await pilot.press("d")
        await until(pilot, lambda: any(r.state == "downloading" and r.done > 0
                                       for r in app.downloads_pane.rows.values()))
        await pilot.press("c")
        await until(pilot, lambda: not app.downloading)
        assert "cancelled" in app.downloads_pane.note
        assert list(repo_dir(tmp_path, *SMALL).rglob("*.incomplete"))
        catalog_hub.clear_faults()
        await download(app, pilot)
        assert set(states(app, "facebook/musicgen-small").values()) <= {"done", "skipped"}

    run(tmp_path, catalog_hub, script)
    assert (repo_dir(tmp_path, *SMALL) / "model.safetensors").stat().st_size == size
    assert not list(repo_dir(tmp_path, *SMALL).rglob("*.incomplete"))
    # the full profile brings T5 (audiocraft's text encoder), whose weights share the file name
    t5 = catalog_hub.repos[("model", "google-t5/t5-base")].get("model.safetensors").size  # type: ignore[union-attr]
    assert catalog_hub.stats.bytes_served["model.safetensors"] <= 1.10 * size + t5


def test_gated_repo_shows_its_error_while_the_rest_completes(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "facebook/musicgen-medium", "facebook/encodec_24khz")
        await download(app, pilot)
        rows = app.downloads_pane.rows.values()
        gated = [r for r in rows if r.repo_id == "facebook/musicgen-medium"]
        assert gated and all(r.state == "failed" for r in gated)
        assert "HF_TOKEN" in (gated[0].message or "")
        assert set(states(app, "facebook/encodec_24khz").values()) == {"done"}
        assert "HF_TOKEN" in str(app.downloads_pane.query_one("#dl-detail").render())

    run(tmp_path, catalog_hub, script)


def test_quit_mid_download_leaves_it_to_the_service_which_finishes_it(tmp_path: Path, catalog_hub: LocalHub,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from core.service import client as service

    size = catalog_hub.repos[SMALL].get("model.safetensors").size  # type: ignore[union-attr]

    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await tick(app, pilot, "facebook/musicgen-small")
        catalog_hub.inject(Fault("slow", "*", times=100, delay=0.3))
        await pilot.press("d")
        await until(pilot, lambda: any(r.done > 0 and r.state == "downloading"
                                       for r in app.downloads_pane.rows.values()))
        await pilot.press("q")

    app = run(tmp_path, catalog_hub, script)
    assert app.return_code == 0
    assert "go on in this root's download service" in app.farewell and "status --follow" in app.farewell
    hinted = re.search(r"`musicgen-tui (.*) status --follow`", app.farewell)  # the hint works from any folder
    assert hinted is not None and shlex.split(hinted.group(1)) == ["--root", str(tmp_path)]
    capsys.readouterr()
    assert main([*shlex.split(hinted.group(1)), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["busy"]
    client = service.connect(tmp_path)
    assert client is not None
    with client:
        assert client.raw({"op": "status"})["busy"]  # the app is gone, its download is not
    catalog_hub.clear_faults()
    for _ in range(600):
        client = service.connect(tmp_path)
        assert client is not None
        with client:
            if not client.raw({"op": "status"})["busy"]:
                break
        time.sleep(0.05)
    assert (repo_dir(tmp_path, *SMALL) / "model.safetensors").stat().st_size == size
    assert not list(repo_dir(tmp_path, *SMALL).rglob("*.incomplete"))
    # the full profile brings T5 (audiocraft's text encoder), whose weights share the file name
    t5 = catalog_hub.repos[("model", "google-t5/t5-base")].get("model.safetensors").size  # type: ignore[union-attr]
    assert catalog_hub.stats.bytes_served["model.safetensors"] <= 1.10 * size + t5


def test_filter_and_add_repo_by_id(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await pilot.press("slash", *"encodec")
        keys = [str(k.value) for k in app.select_pane.table.rows]
        assert [k for k in keys if not k.startswith("group:")] == [
            "model:facebook/encodec_32khz", "model:facebook/encodec_24khz", "model:facebook/encodec_48khz"]
        await pilot.press("escape")
        assert app.select_pane.table.row_count == len(app.entries) + 2
        await pilot.press("n", *"acme/extra-set", "tab", "down", "space", "enter")
        await until(pilot, lambda: "dataset:acme/extra-set" in app.entries)
        entry = app.entries["dataset:acme/extra-set"]
        assert entry.selected
        await until(pilot, lambda: entry.plan is not None)
        assert entry.plan is not None and entry.plan.status == "available"

    run(tmp_path, catalog_hub, script)


def test_help_palette_and_binding_ids(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert type(app.screen).__name__ == "Screen"
        ids = {b.id for b in app.BINDINGS if hasattr(b, "id")}  # type: ignore[union-attr]
        assert {"toggle", "download", "verify", "export", "cancel", "quit", "help"} <= ids
        app.set_keymap({"download": "D"})
        await pilot.press("D")
        assert app.current_pane == "select"  # nothing ticked: a warning, no download
        await pilot.press("ctrl+p")
        await pilot.press(*"Show Verify", "enter")
        await until(pilot, lambda: app.current_pane == "verify")

    run(tmp_path, catalog_hub, script)


def test_short_disk_asks_before_downloading(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def go() -> None:
        settings = Settings(root=tmp_path, endpoint=catalog_hub.url, min_free=1 << 60, **sources_settings())
        app = make_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            await tick(app, pilot, "facebook/encodec_48khz")
            await pilot.press("d")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("n")
            await until(pilot, lambda: not app.downloading)
            assert "not enough free space" in app.downloads_pane.note
            assert not repo_dir(tmp_path, "model", "facebook/encodec_48khz").exists()
            await pilot.press("d")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            await until(pilot, lambda: not app.downloading and "finished" in app.downloads_pane.note)

    asyncio.run(go())
    assert (repo_dir(tmp_path, "model", "facebook/encodec_48khz") / "model.safetensors").is_file()


def test_verify_with_nothing_downloaded_says_so(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await pilot.press("v")
        await until(pilot, lambda: "nothing to verify" in str(app.verify_pane.query_one("#verify-summary").render()))

    run(tmp_path, catalog_hub, script)


def test_profile_per_repo_and_dependency(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        key = "model:facebook/musicgen-stereo-small"
        app.select_pane.move_to(key)
        await pilot.press("p")
        assert app.entries[key].profile == "audiocraft"
        await until(pilot, lambda: app.entries[key].plan is not None and app.entries[key].plan.profile == "audiocraft")
        await pilot.press("space")
        summary = str(app.select_pane.query_one("#select-summary").render())
        assert "facebook/encodec_32khz, google-t5/t5-base, needed" in summary and "profile audiocraft" in summary
        await download(app, pilot)
        assert set(states(app, "facebook/musicgen-stereo-small")) == {"state_dict.bin", "compression_state_dict.bin"}
        assert set(states(app, "facebook/encodec_32khz").values()) == {"done"}

    run(tmp_path, catalog_hub, script)
    assert set(tree_bytes(repo_dir(tmp_path, "model", "facebook/musicgen-stereo-small"))) == {
        "state_dict.bin", "compression_state_dict.bin"}


def test_verify_tells_not_downloaded_from_not_on_this_endpoint_and_promises_only_what_d_can_do(
        tmp_path: Path, catalog_hub: LocalHub) -> None:
    def summary(app: MusicgenApp) -> str:
        return str(app.verify_pane.query_one("#verify-summary").render())

    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        assert app.entries["dataset:muso-ai/musicnet"].plan.status == "not on endpoint"  # type: ignore[union-attr]
        await tick(app, pilot, "muso-ai/musicnet", "facebook/encodec_24khz")
        await pilot.press("v")
        await until(pilot, lambda: "PROBLEMS FOUND" in summary(app))
        assert "d fetches 1 again; 1 not available on this endpoint" in summary(app)
        details = {str(k.value): str(app.verify_pane.table.get_row(k)[-1]) for k in app.verify_pane.table.rows}
        assert "not downloaded, and a download cannot bring it: not on this endpoint" in details.values(), details
        assert any(d == "not downloaded" for d in details.values()), details
        await pilot.press("1")
        app.select_pane.move_to("model:facebook/encodec_24khz")
        await pilot.press("space")  # untick: only the repo d cannot bring is left
        assert not app.entries["model:facebook/encodec_24khz"].selected
        await pilot.press("v")
        await until(pilot, lambda: "cannot fetch them" in summary(app))
        assert "1 not available on this endpoint: d cannot fetch them" in summary(app)

    run(tmp_path, catalog_hub, script, publishers=False)


def test_a_long_reason_is_read_in_full_under_the_downloads_table(tmp_path: Path, catalog_hub: LocalHub) -> None:
    async def go() -> None:
        app = app_for(tmp_path, catalog_hub, publishers=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            reason = app.entries["dataset:muso-ai/musicnet"].plan.message  # type: ignore[union-attr]
            assert reason and len(reason) > 80
            await tick(app, pilot, "muso-ai/musicnet")
            await download(app, pilot)
            detail = app.downloads_pane.query_one("#dl-detail")
            assert " ".join(reason.split()) in " ".join(str(detail.render()).split())
            assert detail.size.height >= -(-len(reason) // 78)  # wrapped, every line of it, not cut at 80

    asyncio.run(go())


def test_a_retry_is_read_without_a_key_and_planning_gives_way_to_the_files(tmp_path: Path,
                                                                           catalog_hub: LocalHub) -> None:
    """While a file is retried (every event of the retry carries its reason) its row reads "retrying" and the
    line under the table gives the reason with the cursor elsewhere; the planning note goes with the first files."""
    from core.results import FileEvent
    from core.states import FileState
    from tui.messages import DownloadProgress

    small = "facebook/musicgen-small"
    reason = "retrying (attempt 2 of 6): connection failed: ReadError: [Errno 104] Connection reset by peer"

    def event(path: str, state: FileState, done: int, message: str | None = None) -> FileEvent:
        return FileEvent(small, "model", path, state, done, 1_000, 50.0 if state is FileState.DOWNLOADING else 0.0,
                         message)

    async def go() -> None:
        app = app_for(tmp_path, catalog_hub)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.downloads_pane
            await pilot.press("2")
            pane.reset("planning 1 repo…", planning=True)
            assert "planning 1 repo…" in str(pane.query_one("#dl-summary").render())
            app.post_message(DownloadProgress([event("a.bin", FileState.DOWNLOADING, 100),
                                               event("b.bin", FileState.DOWNLOADING, 600, reason)]))
            detail = pane.query_one("#dl-detail")
            await until(pilot, lambda: "b.bin" in str(detail.render()))
            table = pane.table
            assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "model:" + small + ":a.bin"
            assert " ".join(str(detail.render()).split()) == f"↻ {small}/b.bin: {reason}"
            assert "planning" not in str(pane.query_one("#dl-summary").render())
            app.post_message(DownloadProgress([event("b.bin", FileState.DOWNLOADING, 800, reason)]))
            await pilot.pause()
            assert pane.rows["model:" + small + ":b.bin"].label == "retrying"
            app.post_message(DownloadProgress([event("b.bin", FileState.DONE, 1_000)]))
            await until(pilot, lambda: str(detail.render()).strip() == "")
            assert pane.rows["model:" + small + ":b.bin"].state is FileState.DONE

    asyncio.run(go())


def test_the_summary_speed_is_what_arrived_not_the_sum_of_the_files_rates() -> None:
    """A big file at 540 KiB/s beside small files that finish before they report a rate: the summary's speed
    (and so its ETA) follows the bytes that arrived over the last seconds; before any, the files' own rates."""
    from core.results import FileEvent
    from core.states import FileState
    from tui.downloads_pane import FileRow, Tally

    tally = Tally()
    big = FileRow("acme/x", "big.bin", 10 << 20, rate=540 * 1024, state=FileState.DOWNLOADING)
    small = [FileRow("acme/x", f"{i}.wav", 160 << 10) for i in range(36)]

    def finish(rows: list[FileRow]) -> None:
        for row in rows:
            tally.add(row.path, row)
            tally.change(row.path, row, FileEvent("acme/x", "model", row.path, FileState.DONE, 160 << 10, 160 << 10))

    assert tally.overall(0.0, [big]) == 540 * 1024  # nothing arrived yet: the file's own rate
    finish(small[:12])
    assert tally.overall(1.0, [big]) == 540 * 1024  # the window has just begun
    finish(small[12:])
    assert tally.overall(2.0, [big]) == 24 * (160 << 10)  # 3.75 MiB in that second, whatever the big file said
    assert tally.overall(8.0, [big]) == 0.0  # nothing for six seconds: stalled, the stale rate is not believed
