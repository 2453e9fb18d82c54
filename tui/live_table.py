"""The one place the app reaches into Textual's internals, so a busy progress view stays cheap over SSH and at
20,000 rows.

``DataTable.update_cell`` repaints the whole widget, scrollbars included: with a few dozen rows moving ten
times a second that is most of the bytes sent to the terminal. ``LiveTable.set_cell`` stores the value the
way ``update_cell`` does and repaints only its row.

Textual keys its row order (``ordered_rows``) and its line map (``_y_offsets``) on ``_update_count``, which
every cell change bumps, and finds a row's place by summing the heights of the rows above it: each cell update
cost a walk over every row, so 20,000 queued files made the app take 28 s to show the first one. Here the
order and the line map are kept until rows are added, removed or sorted, and a row's place is its index
(every row is one line high).

It relies on private parts of Textual's DataTable (``_data``, ``_update_count``, ``_row_locations`` and its
``TwoWayDict``, ``_refresh_region``); ``tests/test_tui_live_table.py`` fails loudly when a Textual release
moves them, and until then the public, slower ``update_cell`` keeps the app correct.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual._two_way_dict import TwoWayDict
from textual.geometry import Region, Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

CELLS_KEPT, LINES_KEPT = 2400, 300  # render cache sizes: three screenfuls of a 100-line terminal


class LiveTable(DataTable[object]):
    """A DataTable whose cell updates repaint only their row, in constant time."""

    fast_path = True  # False once Textual's internals were found moved: every update takes the public path

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._order_version = 0  # before DataTable's own __init__, which already asks for the row order
        self._order_key: tuple[int, int] | None = None
        self._order: list[Row] = []
        self._lines: list[tuple[RowKey, int]] = []
        super().__init__(*args, **kwargs)
        # Every repaint of a changed row renders anew (the caches are keyed on ``_update_count``), so what the
        # caches hold beyond a screenful is dead: 10,000 cells of segments that every full collection of the
        # cyclic GC walked. A screenful of a tall terminal (100 lines of 8 cells, 3 times over) is kept.
        for name, size in (("_cell_render_cache", CELLS_KEPT), ("_row_render_cache", LINES_KEPT),
                           ("_line_cache", LINES_KEPT), ("_row_renderable_cache", LINES_KEPT)):
            cache = getattr(self, name, None)
            if isinstance(getattr(cache, "maxsize", None), int):
                cache.maxsize = min(cache.maxsize, size)  # type: ignore[union-attr]

    def set_cell(self, row_key: str, column_key: str, value: object) -> None:
        rk, ck = RowKey(row_key), ColumnKey(column_key)
        if self.fast_path and not self.internals_known():
            type(self).fast_path = False
        row = self._data.get(rk) if self.fast_path else None
        if row is None:  # the public way (it also says which key is missing)
            self.update_cell(rk, ck, value)
            return
        row[ck] = value
        self._update_count += 1  # the render caches are keyed on this: the row renders anew
        index = self._row_locations.get(rk)
        if index is not None:  # the row's visible part only: a wider region repaints the scrollbars too
            y = index + (self.header_height if self.show_header else 0)
            self._refresh_region(Region(int(self.scroll_x), y, self.scrollable_content_region.width, 1))

    def set_column_width(self, column_key: str, width: int) -> None:
        """A column's new width: the rows render anew and the virtual size follows."""
        column = self.columns[ColumnKey(column_key)]
        if column.width == width:
            return
        column.width = width
        self._update_count += 1
        self._update_dimensions([])
        self.refresh(layout=True)

    def internals_known(self) -> bool:
        """Whether the private fields ``set_cell`` and the order cache use are still what they expect."""
        return (isinstance(getattr(self, "_data", None), dict)
                and isinstance(getattr(self, "_update_count", None), int)
                and hasattr(getattr(self, "_row_locations", None), "get")
                and callable(getattr(self, "_refresh_region", None)))

    def _update_dimensions(self, new_rows: Any) -> None:
        """New rows, when every column has a fixed width and no row a label or auto height: nothing to measure
        (Textual measures every cell of every new row, 3 s for 20,000 rows), only the virtual size to set."""
        if not self.fast_path or any(c.auto_width for c in self.columns.values()) or \
                any(r.label is not None or r.auto_height for k in new_rows if (r := self.rows.get(k)) is not None):
            super()._update_dimensions(new_rows)
            return
        width = sum(c.get_render_width(self) for c in self.columns.values()) + self._row_label_column_width
        self.virtual_size = Size(width, self.row_count + (self.header_height if self.show_header else 0))

    # --- the row order and the line map, rebuilt only when the rows or their order change ----------------
    def _reorder(self) -> None:
        self._order_version += 1

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None,
                label: Any = None) -> RowKey:
        if height != 1:
            raise ValueError("LiveTable rows are one line high")
        self._reorder()
        return super().add_row(*cells, height=height, key=key, label=label)

    def remove_row(self, row_key: RowKey | str) -> None:
        self._reorder()
        super().remove_row(row_key)

    def clear(self, columns: bool = False) -> LiveTable:
        self._reorder()
        super().clear(columns)
        return self

    def sort(self, *columns: Any, key: Any = None, reverse: bool = False) -> LiveTable:
        self._reorder()
        super().sort(*columns, key=key, reverse=reverse)
        return self

    def order_by(self, rank: Callable[[str], Any], column: str, cell_rank: Callable[[object], Any]) -> None:
        """Sort the rows by ``rank`` of their key (stable, from the order they were added, as ``sort`` is): no
        cell is read or turned into text, a quarter of the time ``sort`` takes at 20,000 rows. Without the fast
        path, ``sort`` on ``column`` with ``cell_rank``."""
        if not self.fast_path or not isinstance(self._row_locations, TwoWayDict):
            self.sort(column, key=cell_rank)
            return
        keys = sorted(self._data, key=lambda k: rank(k.value or ""))
        self._row_locations = TwoWayDict(dict(zip(keys, range(len(keys)), strict=True)))
        self._reorder()
        rows = self.rows  # the order is known: the row list and line map follow from it, not from a lookup a row
        self._order = [rows[k] for k in keys]
        self._lines = [(k, 0) for k in keys]
        self._current()
        self._update_count += 1
        self.refresh()

    def _current(self) -> bool:
        key = (self.row_count, self._order_version)
        if self._order_key == key:
            return True
        self._order_key = key
        return False

    @property
    def ordered_rows(self) -> list[Row]:
        if not self.fast_path:
            return super().ordered_rows
        if not self._current():
            rows, keys = self.rows, self._row_locations
            self._order = [rows[k] for i in range(self.row_count) if (k := keys.get_key(i)) is not None]
            self._lines = [(row.key, 0) for row in self._order]
        return self._order

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        if not self.fast_path:
            return super()._y_offsets
        self.ordered_rows  # noqa: B018 - brings the line map up to date
        return self._lines
