"""The one place the app reaches into Textual's internals, so a busy progress view stays cheap over SSH.

``DataTable.update_cell`` repaints the whole widget, scrollbars included: with a few dozen rows moving ten
times a second that is most of the bytes sent to the terminal. ``LiveTable.set_cell`` stores the value the
way ``update_cell`` does and repaints only its row. It relies on two private fields of Textual's DataTable
(``_data``, the cells by row and column key, and ``_update_count``, part of the row cache's key);
``tests/test_tui_live_table.py`` fails loudly when a Textual release moves them, and until then the
public, slower ``update_cell`` keeps the app correct.
"""

from __future__ import annotations

from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


class LiveTable(DataTable[object]):
    """A DataTable whose cell updates repaint only their row."""

    fast_path = True  # False once Textual's internals were found moved: every update takes the public path

    def set_cell(self, row_key: str, column_key: str, value: object) -> None:
        rk, ck = RowKey(row_key), ColumnKey(column_key)
        if self.fast_path and not self.internals_known():
            type(self).fast_path = False
        row = self._data.get(rk) if self.fast_path else None
        if row is None:  # the public way (it also says which key is missing)
            self.update_cell(rk, ck, value)
            return
        row[ck] = value
        self._update_count += 1  # the row cache is keyed on this: the row renders anew
        self.refresh_row(self.get_row_index(rk))

    def internals_known(self) -> bool:
        """Whether the private fields ``set_cell`` uses are still what it expects."""
        return isinstance(getattr(self, "_data", None), dict) and isinstance(getattr(self, "_update_count", None), int)
