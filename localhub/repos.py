"""The repos the local Hub serves: files in memory, tiled from a block, on disk or of a virtual size, with the Hub's
hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

LFS_SUFFIXES = (".bin", ".safetensors", ".pt", ".th", ".ckpt", ".gz", ".zip", ".tar", ".wav", ".mp3", ".npy")
LFS_MIN_SIZE = 10 * 1024
RepoType = Literal["model", "dataset"]
Access = Literal["granted", "pending", "none"]  # a token's access to a gated repo: granted, requested, never asked


@dataclass(frozen=True)
class Tiled:
    """``size`` bytes made of ``block`` over and over: a big stand-in served and hashed, held in little memory."""

    block: bytes
    size: int

    def read(self, start: int, end: int) -> bytes:
        block, n = self.block, len(self.block)
        out = bytearray()
        while start < end:
            offset = start % n
            piece = block[offset:offset + end - start]
            out += piece
            start += len(piece)
        return bytes(out)


@dataclass
class HubFile:
    """One file of a repo: bytes in memory or tiled from a block, a file on disk, or a virtual size (never
    served)."""

    path: str
    data: bytes | None = None
    source: Path | None = None
    virtual_size: int | None = None
    tiled: Tiled | None = None
    lfs: bool | None = None
    _digests: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        if self.tiled is not None:
            return self.tiled.size
        if self.source is not None:
            return self.source.stat().st_size
        return self.virtual_size or 0

    @property
    def is_lfs(self) -> bool:
        if self.lfs is not None:
            return self.lfs
        return self.size >= LFS_MIN_SIZE or self.path.endswith(LFS_SUFFIXES)

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start``..``end`` (exclusive) of the file."""
        end = self.size if end is None else end
        if self.data is not None:
            return self.data[start:end]
        if self.tiled is not None:
            return self.tiled.read(start, min(end, self.tiled.size))
        if self.source is not None:
            with self.source.open("rb") as f:
                f.seek(start)
                return f.read(end - start)
        return b"\0" * (end - start)

    def _hashes(self) -> tuple[str, str]:
        """``(sha256, git blob sha1)`` of the bytes, computed once in one pass."""
        if self._digests is None:
            sha = hashlib.sha256()
            blob = hashlib.sha1(b"blob %d\0" % self.size)
            for pos in range(0, self.size, 8 << 20):
                chunk = self.read(pos, min(pos + (8 << 20), self.size))
                sha.update(chunk)
                blob.update(chunk)
            self._digests = (sha.hexdigest(), blob.hexdigest())
        return self._digests

    @property
    def sha256(self) -> str:
        return self._hashes()[0]

    @property
    def blob_id(self) -> str:
        return self._hashes()[1]

    @property
    def etag(self) -> str:
        return self.sha256 if self.is_lfs else self.blob_id


@dataclass
class HubRepo:
    """A repo the local Hub serves."""

    repo_id: str
    repo_type: RepoType = "model"
    files: list[HubFile] = field(default_factory=list)
    gated: bool = False
    access: dict[str, Access] = field(default_factory=dict)  # valid tokens not named here have access
    listing_refused: bool = False  # gated, and the tree API refuses too (repo info still answers)
    _commit: str | None = field(default=None, repr=False)
    _index: dict[str, HubFile] | None = field(default=None, repr=False)
    trees: dict[tuple[str, bool, int], list[dict[str, object]]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_folder(cls, repo_id: str, folder: Path, repo_type: RepoType = "model", gated: bool = False) -> HubRepo:
        """A repo whose files are the files below ``folder``."""
        files = [HubFile(p.relative_to(folder).as_posix(), source=p) for p in sorted(folder.rglob("*")) if p.is_file()]
        return cls(repo_id, repo_type, files, gated)

    @property
    def commit(self) -> str:
        """A stable 40-hex commit id derived from the files (computed once: files are fixed once served)."""
        if self._commit is None:
            h = hashlib.sha1(f"{self.repo_type}:{self.repo_id}".encode())
            for f in sorted(self.files, key=lambda f: f.path):
                h.update(f"{f.path}\0{f.size}\0".encode())
                if f.virtual_size is None:
                    h.update(f.blob_id.encode())
            self._commit = h.hexdigest()
        return self._commit

    def access_of(self, token: str | None, valid: set[str]) -> Access:
        """What ``token`` may do here: an ungated repo is open; a gated one needs a valid token with access."""
        if not self.gated:
            return "granted"
        if token is None or token not in valid:
            return "none"
        return self.access.get(token, "granted")

    def get(self, path: str) -> HubFile | None:
        if self._index is None:
            self._index = {f.path: f for f in self.files}
        return self._index.get(path)


def load_store(store: Path) -> list[HubRepo]:
    """Repos from a folder: ``models/<org>/<name>/…`` and ``datasets/<org>/<name>/…``."""
    repos = []
    for kind, repo_type in (("models", "model"), ("datasets", "dataset")):
        base = store / kind
        for org in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
            for folder in sorted(p for p in org.iterdir() if p.is_dir()):
                repos.append(HubRepo.from_folder(f"{org.name}/{folder.name}", folder, repo_type))  # type: ignore[arg-type]
    return repos
