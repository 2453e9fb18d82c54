"""One output sink for every command: lines and tables for people, or, with ``--json``, one JSON document on
stdout and nothing else there. Commands hand it views and never ask which mode it is in."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Container, Iterable
from typing import Any, Protocol

from core.safety import printable


class View(Protocol):
    """A command's result, readable both ways."""

    def text(self) -> Iterable[str]: ...

    def data(self) -> Any: ...


class Output:
    """Text mode prints each view's lines as it is shown. JSON mode keeps each view's data and prints one
    document when the command ends: the first view's data, with later views' keys merged into it."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self._doc: Any = None

    def show(self, view: View) -> None:
        if not self.as_json:
            for line in view.text():
                print(printable(line))
        else:
            self._merge(view.data())

    def say(self, text: str) -> None:
        """A line for people only (a hint, a dry-run notice); control characters escaped, as in every line."""
        if not self.as_json:
            print(printable(text))

    def error(self, message: str) -> None:
        """A failure the command reports and survives: one line on stderr, and ``error`` in the document."""
        print(printable(f"musicgen-tui: {message}"), file=sys.stderr)
        if self.as_json:
            self._merge({"error": message})

    def close(self) -> None:
        if self.as_json and self._doc is not None:
            json.dump(self._doc, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")

    def _merge(self, data: Any) -> None:
        if self._doc is None:
            self._doc = data
        elif isinstance(self._doc, dict) and isinstance(data, dict):
            self._doc.update(data)
        else:
            raise TypeError("only JSON objects can be merged into one document")


def table(rows: list[list[str]], right: Container[int] = ()) -> list[str]:
    """The lines of a table: columns padded to their widest cell; the columns in ``right`` aligned right."""
    rows = [[printable(c) for c in r] for r in rows]  # an escape widens a cell: escaped before it is measured
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


def shown(path: os.PathLike[str] | str) -> str:
    """A path relative to the current folder when it lies below it, else absolute."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel
