"""Internal records (segment progress, hash and plan caches, listings, records) that cannot be read: each is
treated as absent and derived again, with one line in the log; never a traceback on a later run."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("musicgen_tui.records")

# What reading a damaged record can raise: a torn or foreign file, JSON or marshal of another shape.
DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError)
_said: set[str] = set()


def unreadable(path: os.PathLike[str] | str, exc: BaseException) -> None:
    """Note once that ``path`` was unreadable and is being derived again; a record that is simply not there yet
    says nothing."""
    if isinstance(exc, FileNotFoundError) or str(path) in _said:
        return
    _said.add(str(path))
    log.warning("%s was unreadable (%s); treated as absent and made again", path, type(exc).__name__)
