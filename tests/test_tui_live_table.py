"""The one adapter on Textual's internals (tui/live_table.py): it must still take its fast path, repainting only
the changed row. When a Textual release moves the private fields it uses, this fails and says so; the app itself
stays correct meanwhile (it falls back to the public ``update_cell``)."""

from __future__ import annotations

import asyncio

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
            whole: list[object] = []
            rows: list[int] = []
            real_refresh, real_refresh_row = table.refresh, table.refresh_row
            table.refresh = lambda *a, **k: (whole.append(a), real_refresh(*a, **k))[1]  # type: ignore[method-assign]
            table.refresh_row = lambda i: (rows.append(i), real_refresh_row(i))[1]  # type: ignore[method-assign]
            table.set_cell("r3", "b", "changed")
            assert LiveTable.fast_path
            assert rows == [3] and not [a for a in whole if not a]  # one row, never the whole widget
            assert table.get_cell("r3", "b") == "changed"
            await pilot.pause()
            assert "changed" in "".join(s.text for s in table.render_line(3 + 1))  # the header is line 0

    asyncio.run(go())
