"""The root's pauses, kept across the service's restarts: ``.musicgen-tui-paused.json`` holds whether everything
is paused and which repos are. Written by the service (the root's one writer) on each pause and resume; a file
that is damaged, a planted link or of another shape reads as no pause, said in one log line."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .damaged import DAMAGED, unreadable
from .jsonio import write_json_atomic
from .safeio import open_fd

PAUSED_NAME = ".musicgen-tui-paused.json"
MAX_BYTES = 8 << 20
Key = tuple[str, str]


def read_pauses(root: Path) -> tuple[bool, tuple[Key, ...]]:
    """(everything paused, the paused repos as (type, id))."""
    path = root / PAUSED_NAME
    try:
        fd = open_fd(path, os.O_RDONLY)
    except FileNotFoundError:
        return False, ()
    except OSError as e:  # a planted link, a folder in its place
        unreadable(path, e)
        return False, ()
    try:
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(MAX_BYTES + 1)[:MAX_BYTES])
        repos = tuple((str(t), str(i)) for t, i in data["repos"] if t in ("model", "dataset") and isinstance(i, str))
        return bool(data["all"]) is True, repos
    except DAMAGED as e:
        unreadable(path, e)
        return False, ()


def write_pauses(root: Path, paused_all: bool, repos: set[Key]) -> None:
    path = root / PAUSED_NAME
    if not paused_all and not repos:
        path.unlink(missing_ok=True)
        return
    write_json_atomic(path, {"all": paused_all, "repos": sorted([t, i] for t, i in repos)})
