"""Log lines that a remote name cannot forge: control characters escaped in the message and the traceback."""

from __future__ import annotations

import copy
import logging

from .safety import printable


class PrintableFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose lines never carry a control character from a name: a repo's file named
    ``x\\n2026-… ERROR …`` cannot add a line of its own to the log, nor a terminal escape to a ``tail -f``."""

    def format(self, record: logging.LogRecord) -> str:
        record = copy.copy(record)
        record.msg, record.args = printable(record.getMessage()), None
        return "\n".join(printable(line) for line in super().format(record).split("\n"))


def install(handler: logging.Handler, fmt: str = "%(asctime)s %(levelname)s %(message)s") -> logging.Handler:
    handler.setFormatter(PrintableFormatter(fmt))
    return handler
