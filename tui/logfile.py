"""The app's log: error details (tracebacks included) go to ``musicgen-tui.log`` in the workspace root, a file
opened only when there is something to say, so a run without errors leaves none."""

from __future__ import annotations

import logging
from pathlib import Path

LOG_NAME = "musicgen-tui.log"
log = logging.getLogger("musicgen_tui")


def log_to(path: Path) -> None:
    """Send the app's log to ``path`` from now on (a new app replaces the last one's file)."""
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    handler = logging.FileHandler(path, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
