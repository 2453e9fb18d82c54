"""Issue 28 in the app: the ids the Hub lacks are rows like the others, saying who serves them, sized, ticked,
downloaded and extracted, and verified in the Verify pane."""

from __future__ import annotations

from pathlib import Path

from conftest import repo_dir
from test_tui_pilot import download, run, tick, until
from textual.pilot import Pilot

from localhub import LocalHub
from tui.app import MusicgenApp


def test_an_off_hub_row_says_who_serves_it_downloads_extracts_and_verifies(tmp_path: Path,
                                                                          catalog_hub: LocalHub) -> None:
    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        entry = app.entries["dataset:magenta/nsynth"]
        cells = entry.cells()
        assert cells[1] == "magenta/nsynth · Magenta" and cells[5] == "test" and cells[2].endswith("KiB")
        assert app.entries["model:facebook/demucs"].cells()[5] == "htdemucs"
        app.select_pane.move_to("dataset:polyfloyd/fma")
        await pilot.press("p")  # a source's own profiles (the stand-ins' FMA has two: small, all)
        await until(pilot, lambda: app.entries["dataset:polyfloyd/fma"].plan is not None)
        assert app.entries["dataset:polyfloyd/fma"].cells()[5] == "all"
        assert app.entries["dataset:polyfloyd/fma"].plan.profile == "all"  # type: ignore[union-attr]
        await tick(app, pilot, "magenta/nsynth")
        await download(app, pilot)  # (its "extracting" is too short here to reach a row: the CLI's tests see it)
        assert "finished" in app.downloads_pane.note
        assert [r.state for r in app.downloads_pane.rows.values()] == ["done"]
        assert (repo_dir(tmp_path, "dataset", "magenta/nsynth") / "nsynth-test.jsonwav" / "nsynth-test"
                / "examples.json").is_file()
        await pilot.press("v")
        await pilot.pause(0.5)
        for _ in range(200):
            if "report:" in str(app.verify_pane.query_one("#verify-summary").render()):
                break
            await pilot.pause(0.05)
        summary = str(app.verify_pane.query_one("#verify-summary").render())
        assert "all files match" in summary and "0 mismatch" in summary, summary

    run(tmp_path, catalog_hub, script)
