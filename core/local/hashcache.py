"""Hashes remembered per repo folder, keyed by what any change to a file changes: size, mtime_ns, ctime_ns and
inode. ``ctime`` cannot be set back by anyone, so a file rewritten with its old mtime restored still misses.

Kept by folder, as the walk and the record are: per folder, its file names (joined by NUL), their stat keys
as one array of four integers a file, their digests (joined, ``""`` for none), and the sha256 of the files whose
own digest is a git blob id, once a checksum file has asked for it (joined; ``""`` when none is known). A second
verify compares a folder's names, keys and digests as three objects, at C speed; nothing is built per file.
Stored with marshal (a 100,000-file repo loads in milliseconds)."""

from __future__ import annotations

import marshal
from array import array
from pathlib import Path

from .damaged import DAMAGED, unreadable
from .metadata import hf_dir
from .safeio import replace_bytes

CACHE_NAME = "musicgen-tui-hashes.marshal"
OLD_CACHE_NAME = "musicgen-tui-hashes.json"  # format 1, per file: read no more, removed on the next save
CACHE_FORMAT = 3
# names joined by NUL, stat keys (array "q", 4 a file, as bytes), digests joined, sha256s of git-blob files joined
Entry = tuple[str, bytes, str, str]


def _is_entry(prefix: object, entry: object) -> bool:
    return (isinstance(prefix, str) and isinstance(entry, tuple) and len(entry) == 4
            and isinstance(entry[0], str) and isinstance(entry[1], bytes) and isinstance(entry[2], str)
            and isinstance(entry[3], str))


class HashCache:
    """``folder``/``put_folder`` by folder prefix (``""`` or ``"a/b/"``), ``KEY_FIELDS`` integers of stat keys
    a file; ``save`` writes it atomically."""

    def __init__(self, local_dir: Path) -> None:
        self.path = hf_dir(local_dir) / CACHE_NAME
        self.local_dir = local_dir
        self.folders: dict[str, Entry] = {}
        try:
            with open(self.path, "rb") as f:
                fmt, folders = marshal.loads(f.read())
            if fmt == CACHE_FORMAT - 1 and isinstance(folders, dict):  # format 2: no sha256s yet, none known
                folders = {k: (*v, "") if isinstance(v, tuple) else v for k, v in folders.items()}
                fmt = CACHE_FORMAT
            if fmt == CACHE_FORMAT and isinstance(folders, dict):
                if not all(_is_entry(k, v) for k, v in folders.items()):
                    raise TypeError("an entry of another shape")
                self.folders = folders
        except DAMAGED as e:
            unreadable(self.path, e)
        self.dirty = False

    def folder(self, prefix: str) -> Entry | None:
        return self.folders.get(prefix)

    def put_folder(self, prefix: str, names: str, keys: array, digests: list[str],
                   sha256s: list[str] | None = None) -> None:
        """Remember a folder: its names as the record packs them, the keys found, the digests (``""``: none), and
        the sha256s known of its git-blob files (``""``: none)."""
        extra = "\0".join(sha256s) if sha256s and any(sha256s) else ""
        entry = (names, keys.tobytes(), "\0".join(digests), extra)
        if self.folders.get(prefix) != entry:
            self.folders[prefix] = entry
            self.dirty = True

    def put_sha256(self, prefix: str, found: dict[str, str]) -> None:
        """Add the sha256 of some of a remembered folder's files (by name), e.g. hashed for a checksum file."""
        entry = self.folders.get(prefix)
        if entry is None:
            return
        names = entry[0].split("\0")
        sha256s = entry[3].split("\0") if entry[3] else [""] * len(names)
        for i, name in enumerate(names):
            if name in found:
                sha256s[i] = found[name]
        self.folders[prefix] = (*entry[:3], "\0".join(sha256s))
        self.dirty = True

    def keep_only(self, prefixes: set[str]) -> None:
        """Drop the folders no longer planned."""
        for prefix in [p for p in self.folders if p not in prefixes]:
            del self.folders[prefix]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty or not self.local_dir.is_dir():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_bytes(self.path, marshal.dumps((CACHE_FORMAT, self.folders)))
            (self.path.parent / OLD_CACHE_NAME).unlink(missing_ok=True)
        except OSError:  # a read-only folder: the next verify hashes again, nothing is wrong
            pass
        self.dirty = False
