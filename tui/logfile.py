"""The app's log: error details (tracebacks included) go to ``musicgen-tui.log`` in the workspace root, a file
opened only when there is something to say, so a run without errors leaves none."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from core.local.safeio import open_append
from core.logtext import install

LOG_NAME = "musicgen-tui.log"
log = logging.getLogger("musicgen_tui")


class _FileHandler(logging.FileHandler):
    """Appends to the log, refusing a planted symlink in its place (the root may be shared)."""

    def _open(self) -> io.TextIOWrapper:
        return io.TextIOWrapper(open_append(self.baseFilename), encoding=self.encoding or "utf-8",
                                errors=self.errors, write_through=True)


def log_to(path: Path) -> None:
    """Send the app's log to ``path`` from now on (a new app replaces the last one's file)."""
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    log.addHandler(install(_FileHandler(path, delay=True, encoding="utf-8")))
    log.setLevel(logging.INFO)
    log.propagate = False
