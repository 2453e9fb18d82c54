"""Files a repo folder holds that its record does not list (``verify``'s ``extra``): a file the Hub dropped that
an older tool left, or one the user put there. Found from the folder listings alone (no stat per file), below
the tool's own ``.cache`` folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .record import Folders, unpack

SKIP = {".cache"}  # huggingface_hub's and this tool's own records, at the top of a repo folder


def extra_files(local_dir: Path, folders: Folders) -> Iterator[str]:
    """Repo-relative paths of the files below ``local_dir`` not in ``folders`` (the record's planned files),
    in folder order; a symbolic link counts as a file, never followed."""
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            with os.scandir(local_dir / prefix if prefix else local_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        packed = folders.get(prefix)
        names = set(unpack(packed)[0]) if packed is not None else set()  # one folder's names at a time
        subdirs = []
        for e in entries:
            if not prefix and e.name in SKIP:
                continue
            if e.is_dir(follow_symlinks=False):
                subdirs.append(f"{prefix}{e.name}/")
            elif e.name not in names:
                yield prefix + e.name
        stack.extend(reversed(subdirs))
