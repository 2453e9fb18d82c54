"""Free disk space where the workspace lives."""

from __future__ import annotations

import shutil
from pathlib import Path


def free_space(root: Path) -> int:
    """Free bytes on the disk that holds ``root`` (or its nearest existing parent)."""
    p = root
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free
