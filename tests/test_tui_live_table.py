"""The one adapter on Textual's internals (tui/live_table.py): it must still take its fast path, repainting only
the changed row. When a Textual release moves the private fields it uses, this fails and says so; the app itself
stays correct meanwhile (it falls back to the public ``update_cell``)."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import App, ComposeResult

from tui.live_table import LiveTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table = LiveTable()
        table.add_column("A", key="a")
        table.add_column("B", key="b", width=10)
        for i in range(20):
            table.add_row(f"a{i}", f"b{i}", key=f"r{i}")
        yield table


def test_set_cell_updates_one_row_without_repainting_the_table() -> None:
    async def go() -> None:
        app = TableApp()
        async with app.run_test(size=(40, 12)) as pilot:
            table = app.query_one(LiveTable)
            assert table.internals_known(), (
                "Textual's DataTable no longer has the private fields LiveTable uses (_data, _update_count): "
                "update tui/live_table.py for this Textual release")
            regions: list[tuple[object, ...]] = []
            real_refresh = table.refresh
            table.refresh = lambda *a, **k: (regions.append(a), real_refresh(*a, **k))[1]  # type: ignore[method-assign]
            table.set_cell("r3", "b", "changed")
            assert LiveTable.fast_path
            assert len(regions) == 1 and regions[0][0].y == 3 + 1 and regions[0][0].height == 1  # one row only
            assert table.get_cell("r3", "b") == "changed"
            await pilot.pause()
            assert "changed" in "".join(s.text for s in table.render_line(3 + 1))  # the header is line 0

    asyncio.run(go())


class BigTableApp(App[None]):
    def compose(self) -> ComposeResult:
        table = LiveTable()
        table.add_column("A", key="a")
        for i in range(2_000):
            table.add_row(f"a{i}", key=f"r{i}")
        yield table


def test_cell_updates_never_walk_every_row() -> None:
    """At 2,000 rows, 500 cell updates and the frames they cause look up no row list: Textual's own path
    rebuilt its row order (one lookup a row) for every update, quadratic in the queued files."""
    async def go() -> None:
        app = BigTableApp()
        async with app.run_test(size=(40, 12)) as pilot:
            table = app.query_one(LiveTable)
            await pilot.pause()
            lookups = 0
            real = table._row_locations.get_key

            def counting(index: int) -> object:
                nonlocal lookups
                lookups += 1
                return real(index)

            table._row_locations.get_key = counting  # type: ignore[method-assign]
            for k in range(500):
                table.set_cell(f"r{k % 7}", "a", f"v{k}")
                if k % 50 == 0:
                    await pilot.pause()
            await pilot.pause()
            assert lookups < 2_000  # fewer than one walk over the rows, for all 500 updates and their frames
            assert table.get_cell("r6", "a") == "v496"
            table.sort("a")
            await pilot.pause()
            assert table.ordered_rows[0].key.value == "r10"  # a sort still reorders ("a10" first; r0-r6 hold "v…")

    asyncio.run(go())


class PanesApp(App[None]):
    def compose(self) -> ComposeResult:
        from tui.downloads_pane import DownloadsPane
        from tui.verify_pane import VerifyPane

        yield DownloadsPane()
        yield VerifyPane()


HOSTILE = ("a[/]b.wav", "[bold]x.wav", "c\\", "[red]d[/red].txt")


def test_hostile_file_names_show_as_they_are_and_rows_hold_only_strings() -> None:
    """A file name is never read as markup: ``a[/]b.wav`` stopped the Downloads pane with a markup error and
    ``[bold]x.wav`` showed as ``x.wav``. The cells are strings, so 20,000 rows keep no Rich object for the GC."""
    from core.local.verify import FileCheck
    from core.results import FileEvent
    from core.states import CheckStatus, FileState
    from tui.downloads_pane import DownloadsPane
    from tui.verify_pane import VerifyPane

    async def go() -> None:
        app = PanesApp()
        async with app.run_test(size=(120, 30)) as pilot:
            pane = app.query_one(DownloadsPane)
            pane.apply([FileEvent("acme/set", "dataset", name, FileState.FAILED, 0, 5, message=f"bad {name}")
                        for name in HOSTILE])
            await pilot.pause(0.1)
            verify = app.query_one(VerifyPane)
            for name in HOSTILE:
                verify._set(FileCheck(CheckStatus.MISMATCH, "acme/set", "dataset", name, f"got [/] for {name}"))
            await pilot.pause(0.1)
            for table, path_col in ((pane.table, "path"), (verify.table, "path")):
                shown = set()
                for y in range(table.row_count):
                    row = table.get_row_at(y)
                    assert all(isinstance(cell, str) for cell in row)
                    text = "".join(s.text for s in table.render_line(y + 1))  # renders: no markup error
                    shown.add(Text.from_markup(table.get_cell_at((y, list(table.columns).index(path_col)))).plain)
                    assert text.strip()
                assert shown == set(HOSTILE)
            assert "[bold]x.wav" in "".join(s.text for y in range(1, 6) for s in pane.table.render_line(y))

    asyncio.run(go())
