"""Issue 27's live controls in the app, keys only: pause and resume a repo or everything, move a repo first, cap
the bandwidth (the header says so), and the bell for a download that ends while nobody watches."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from conftest import service_status
from test_tui_pilot import SIZE, app_for, download, run, tick, until
from textual.pilot import Pilot
from textual.widgets import Input, Static

from core.service import client as service
from localhub import Fault, LocalHub
from tui.app import MusicgenApp


def _header(app: MusicgenApp) -> str:
    return str(app.query_one("#status-bar", Static).render())


def test_pause_resume_priority_and_limit_keys_steer_the_service(tmp_path: Path, catalog_hub: LocalHub) -> None:
    catalog_hub.inject(Fault("slow", "*", times=1000, delay=0.5))
    settings = app_for(tmp_path, catalog_hub).settings
    with service.ensure(tmp_path, settings) as client:
        client.raw({"op": "submit", "repos": [["dataset", "marsyas/gtzan"]], "max_workers": 2})

    async def go() -> None:
        app = app_for(tmp_path, catalog_hub)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: any(r.state == "downloading" for r in app.downloads_pane.rows.values()))
            await pilot.press("2", "z")  # the highlighted row's repo: gtzan
            await until(pilot, lambda: "1 repo(s) paused" in _header(app))
            await until(pilot, lambda: all(r.state in ("paused", "done") for r in app.downloads_pane.rows.values()))
            assert " paused" in str(app.downloads_pane.query_one("#dl-summary", Static).render())
            await pilot.press("z")  # again: resumed
            await until(pilot, lambda: "paused" not in _header(app))
            await until(pilot, lambda: any(r.state == "downloading" for r in app.downloads_pane.rows.values()))
            await pilot.press("Z")
            await until(pilot, lambda: "PAUSED" in _header(app))
            await pilot.press("Z")
            await until(pilot, lambda: "PAUSED" not in _header(app))
            await pilot.press("plus")
            await until(pilot, lambda: service_status(tmp_path)["controls"]["first"] == [["dataset", "marsyas/gtzan"]])
            await pilot.press("L")
            field = app.screen.query_one("#rate", Input)
            field.value = "2M"
            await pilot.press("enter")
            await until(pilot, lambda: "cap 2.0 MiB/s" in _header(app))
            assert service_status(tmp_path)["controls"]["max_rate"] == 2 << 20
            await pilot.press("L")
            app.screen.query_one("#rate", Input).value = "fast"
            await pilot.press("enter")
            await until(pilot, lambda: "not a size" in str(app.screen.query_one("#limit-error", Static).render())
                        or "size" in str(app.screen.query_one("#limit-error", Static).render()))
            await pilot.press("escape")
            await pilot.press("c")
            await until(pilot, lambda: not app.downloading)

    asyncio.run(go())
    catalog_hub.clear_faults()


def test_the_bell_rings_for_a_download_that_ends_unwatched_unless_turned_off(tmp_path: Path,
                                                                             catalog_hub: LocalHub) -> None:
    rang: list[str] = []

    async def script(app: MusicgenApp, pilot: Pilot[int]) -> None:
        app.bell = lambda: rang.append("bell")  # type: ignore[method-assign]
        await tick(app, pilot, "facebook/musicgen-small")
        await download(app, pilot)  # watched: the Downloads pane is shown, the window focused
        assert rang == []
        (tmp_path / "models").rename(tmp_path / "gone")  # the next download fetches again, slowly
        catalog_hub.inject(Fault("slow", "*", times=3, delay=0.5))
        await pilot.press("d", "1")  # and the user looks at another pane meanwhile
        assert app.downloading
        await until(pilot, lambda: not app.downloading)
        catalog_hub.clear_faults()
        assert rang == ["bell"]

    run(tmp_path, catalog_hub, script)
    rang.clear()

    async def quiet() -> None:
        app = app_for(tmp_path / "quiet", catalog_hub)
        app.settings = replace(app.settings, bell=False)
        app.bell = lambda: rang.append("bell")  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            await tick(app, pilot, "facebook/musicgen-small")
            catalog_hub.inject(Fault("slow", "*", times=3, delay=0.5))
            await pilot.press("d", "1")
            await until(pilot, lambda: not app.downloading)
            catalog_hub.clear_faults()
            assert "finished" in app.downloads_pane.note
        assert rang == []

    (tmp_path / "quiet").mkdir()
    asyncio.run(quiet())
