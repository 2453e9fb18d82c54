"""Issue 26 on screen: the Downloads pane at 80 columns, honest rates, and a fast paste in the add-repo dialog."""

from __future__ import annotations

from pathlib import Path

from test_tui_pilot import run, until
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from localhub import LocalHub
from tui.app import MusicgenApp


def test_a_fast_paste_then_enter_in_the_add_repo_dialog_adds_the_pasted_repo(tmp_path: Path,
                                                                             catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.focused, Input))
        # A terminal's bracketed paste and the Enter right behind it, in one read: both queued before either is
        # handled (pilot.press would wait for the paste to be handled first).
        app.post_message(events.Paste("datasets/acme/extra-set"))
        app.post_message(events.Key("enter", "\r"))
        await until(pilot, lambda: "dataset:acme/extra-set" in app.entries)
        assert app.entries["dataset:acme/extra-set"].selected

    run(tmp_path, catalog_hub, script)


# --- the Downloads pane at 80 columns (item 15) -----------------------------------------------------------------

def test_at_80_columns_the_downloads_pane_keeps_state_name_progress_rate_and_eta(tmp_path: Path) -> None:
    import asyncio

    from core.results import FileEvent
    from core.settings import Settings
    from core.states import FileState
    from tui.app import make_app
    from tui.downloads_pane import COLUMNS
    from tui.format import middle

    long = "data/train/genre_classification/blues/blues.00042.segment-0003.wav"

    async def go(width: int) -> tuple[int, list[str], str]:
        app = make_app(Settings(root=tmp_path), background=False)
        async with app.run_test(size=(width, 24)) as pilot:
            await pilot.press("2")
            app.downloads_pane.apply([FileEvent("acme/gtzan", "dataset", long, FileState.DOWNLOADING, 1 << 20,
                                                4 << 20, 2 << 20)])
            await pilot.pause(0.6)
            pane = app.downloads_pane
            table = pane.table
            seen, used = [], 0
            for label, key, _width in COLUMNS:  # the columns that fit the screen in full
                used += table.columns[key].get_render_width(table)  # type: ignore[index]
                if used > width - 2:
                    break
                seen.append(label)
            return pane.name_width, seen, str(table.get_cell(f"dataset:acme/gtzan:{long}", "path"))

    name, seen, cell = asyncio.run(go(80))
    assert seen == ["STATE", "FILE", "PROGRESS", "RATE", "ETA"]
    assert name == 26 and cell == middle(long, 26) and cell.startswith("data/") and cell.endswith(".wav")
    name, seen, cell = asyncio.run(go(160))
    assert seen[:7] == ["STATE", "FILE", "PROGRESS", "RATE", "ETA", "SIZE", "REPO"]  # more on a wider one
    assert name == 40 and cell == middle(long, 40)


def test_middle_shortens_by_terminal_cells_and_keeps_both_ends() -> None:
    from rich.cells import cell_len

    from tui.format import middle

    assert middle("short.wav", 20) == "short.wav"
    cut = middle("data/part0/00123/long-name.wav", 16)
    assert cell_len(cut) <= 16 and cut.startswith("data/") and cut.endswith(".wav") and "…" in cut
    wide = middle("音楽/曲のとても長い名前の曲.txt", 12)
    assert cell_len(wide) <= 12 and wide.endswith(".txt")


# --- honest rates (item 16) -------------------------------------------------------------------------------------

def test_no_rate_on_a_finished_file_nor_before_a_second_of_data(capsys) -> None:  # type: ignore[no-untyped-def]
    from cli.progress import ProgressPrinter
    from core.progress import file_rate
    from core.results import FileEvent
    from core.states import FileState
    from tui.downloads_pane import FileRow

    assert file_rate(64 << 10, 10.0, 10.0015) == 0.0  # the first chunk, 1.5 ms in: no 40 MiB/s
    assert file_rate(2 << 20, 10.0, 12.0) == 1 << 20
    done = FileRow("acme/x", "a.bin", 100, done=100, rate=3.7 * (1 << 20), state=FileState.DONE)
    assert done.cells()[3] == "-"
    hashing = FileRow("acme/x", "a.bin", 100, done=100, rate=3.7 * (1 << 20), state=FileState.VERIFYING)
    assert hashing.cells()[3] == "-"

    printer = ProgressPrinter(interval=0.0)
    clock = [100.0]
    printer._time = lambda: clock[0]
    printer.started = printer.last = printer.flushed = 100.0

    def at(t: float, state: FileState, done: int) -> None:
        clock[0] = t
        printer.on_event(FileEvent("acme/x", "model", "a.bin", state, done, 10 << 20, 0.0))

    at(100.0, FileState.QUEUED, 0)
    at(100.1, FileState.DOWNLOADING, 1 << 20)
    at(100.5, FileState.DOWNLOADING, 2 << 20)  # half a second of data: no rate yet
    at(101.1, FileState.DOWNLOADING, 3 << 20)  # a second: 2 MiB in it
    at(106.2, FileState.DOWNLOADING, 3 << 20)  # then nothing for five seconds: a stall reads 0, not an average
    printer.finish()
    lines = capsys.readouterr().err.splitlines()
    assert "[2.0 MiB / 10.0 MiB, - /s, ETA ?] 0 done, 0 failed, 1 to go" in lines
    assert "[3.0 MiB / 10.0 MiB, 2.0 MiB/s, ETA 4s] 0 done, 0 failed, 1 to go" in lines
    assert "[3.0 MiB / 10.0 MiB, 0 Bytes/s, ETA ?] 0 done, 0 failed, 1 to go" in lines


def test_a_files_first_events_carry_no_rate(root: Path, hub: LocalHub) -> None:
    """Through the real engine: a slow first second of a file reports rate 0, then a real one."""
    import time

    from core.hub.download import Downloader
    from core.hub.planner import make_plan
    from core.repos import RepoRef
    from core.results import FileEvent
    from core.settings import load_settings
    from core.states import FileState
    from localhub import Fault

    hub.inject(Fault("slow", "state_dict.bin", delay=0.005))  # 4 KiB each 5 ms: 1.5 s for the file
    settings = load_settings(root)
    seen: list[tuple[float, FileEvent]] = []
    plan = make_plan(settings, [RepoRef("model", "acme/tiny-model")])
    Downloader(settings, lambda e: seen.append((time.monotonic(), e))).run(plan)
    events = [(t, e) for t, e in seen if e.path == "state_dict.bin" and e.state is FileState.DOWNLOADING]
    start = events[0][0]
    assert all(e.rate == 0.0 for t, e in events if t - start < 0.9)
    assert any(e.rate > 0 for _, e in events)
