"""Hashes remembered per repo folder, keyed by what any change to a file changes: size, mtime_ns, ctime_ns and
inode. ``ctime`` cannot be set back by anyone, so a file rewritten with its old mtime restored still misses."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .jsonio import write_json_atomic
from .metadata import hf_dir

CACHE_NAME = "musicgen-tui-hashes.json"


def _key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class HashCache:
    """``get``/``put`` by (path relative to the repo folder, algorithm); ``save`` writes it atomically."""

    def __init__(self, local_dir: Path) -> None:
        self.path = hf_dir(local_dir) / CACHE_NAME
        self.local_dir = local_dir
        try:
            self.entries: dict[str, list[object]] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self.dirty = False

    def get(self, rel: str, algorithm: str) -> str | None:
        entry = self.entries.get(f"{algorithm}:{rel}")
        if entry is None:
            return None
        try:
            st = os.stat(self.local_dir / rel)
        except OSError:
            return None
        return str(entry[4]) if entry[:4] == _key(st) else None

    def put(self, rel: str, algorithm: str, digest: str, st: os.stat_result) -> None:
        self.entries[f"{algorithm}:{rel}"] = [*_key(st), digest]
        self.dirty = True

    def forget(self, rel: str) -> None:
        for alg in ("sha256", "git-sha1"):
            if self.entries.pop(f"{alg}:{rel}", None) is not None:
                self.dirty = True

    def save(self) -> None:
        if self.dirty and self.local_dir.is_dir():
            write_json_atomic(self.path, self.entries, indent=None)
            self.dirty = False
