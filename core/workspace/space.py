"""The bytes a set of paths frees: each file's blocks counted once per inode, and only when every link to it
is among the paths going (a hard link elsewhere keeps its bytes on the disk)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path


def planted(root: Path, folder: Path) -> bool:
    """Whether a folder on the way from ``root`` to ``folder`` (``folder`` too) is a symbolic link: a neighbour's
    ``models/acme`` pointing at your home is never walked or removed through."""
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except FileNotFoundError:
            return False
    return False


class Tally:
    """Files and inodes of what is about to go, walked without following a symbolic link."""

    def __init__(self) -> None:
        self.files = 0
        self._inodes: dict[tuple[int, int], list[int]] = {}  # (dev, ino) -> [bytes on disk, links seen, nlink]

    def add_file(self, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        seen = self._inodes.get(key)
        if seen is None:
            self._inodes[key] = [st.st_blocks * 512, 1, st.st_nlink]
        else:
            seen[1] += 1

    def add_tree(self, top: Path, *, count: bool = True) -> None:
        """Every regular file below ``top`` (``count``: as a file of the repo, not a link of a view)."""
        for folder, _dirs, names in os.walk(top):
            for name in names:
                try:
                    st = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    self.add_file(st)
                    self.files += count

    def add_trees(self, tops: Iterable[Path], *, count: bool = True) -> None:
        for top in tops:
            if top.is_dir() and not top.is_symlink():
                self.add_tree(top, count=count)

    @property
    def freed(self) -> int:
        """Bytes on disk freed once it all goes: the inodes whose every link is in the tally."""
        return sum(size for size, seen, nlink in self._inodes.values() if seen >= nlink)
