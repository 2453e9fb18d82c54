"""huggingface_hub's local-dir metadata of a repo folder: where each file, its ``.metadata`` record and its
partial download live, and what a ``.metadata`` file says.

Everything here lives under ``<repo>/.cache/huggingface/``, which ``hf cache verify`` ignores. Reading never
creates anything, so a dry run changes nothing on disk.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .safeio import open_fd


def hf_dir(local_dir: Path) -> Path:
    return local_dir / ".cache" / "huggingface"


@dataclass(frozen=True)
class DownloadPaths:
    """huggingface_hub's local-dir paths for one file (``_local_folder.get_local_download_paths``), computed
    without creating anything and without importing huggingface_hub."""

    file_path: Path
    metadata_path: Path

    def incomplete_path(self, etag: str) -> Path:
        """Where an interrupted download of this version waits for resume (huggingface_hub's naming)."""
        import base64  # only a download needs these: the inventory and verify start without them
        import hashlib

        digest = base64.urlsafe_b64encode(hashlib.sha1(self.metadata_path.name.encode()).digest()).decode()
        return self.metadata_path.parent / f"{digest}.{etag}.incomplete"


def download_paths(local_dir: Path, path: str) -> DownloadPaths:
    rel = os.path.join(*path.split("/"))
    return DownloadPaths(local_dir / rel, hf_dir(local_dir) / "download" / f"{rel}.metadata")


@dataclass(frozen=True)
class FileMetadata:
    commit: str
    etag: str
    timestamp: float


def read_metadata(paths: DownloadPaths) -> FileMetadata | None:
    """The ``.metadata`` record of a file (commit, etag, timestamp), or None."""
    try:
        commit, etag, ts = paths.metadata_path.read_text(encoding="utf-8").splitlines()[:3]
        return FileMetadata(commit.strip(), etag.strip(), float(ts))
    except (OSError, ValueError):
        return None


def is_fresh(paths: DownloadPaths, meta: FileMetadata | None, etag: str, size: int) -> bool:
    """True when the file is at its size and unchanged since the metadata recorded ``etag``."""
    if meta is None or meta.etag != etag:
        return False
    try:
        st = paths.file_path.stat()
    except OSError:
        return False
    return st.st_size == size and st.st_mtime - 1 <= meta.timestamp


def write_metadata(paths: DownloadPaths, commit: str, etag: str) -> None:
    """Record a finished file the way huggingface_hub does (``commit``, ``etag``, timestamp, one per line), so
    ``hf`` and ``hf cache verify`` read it. Written without huggingface_hub's per-file lock file: the root's
    lock already keeps other writers out, and the record replaces the old one in one rename."""
    tmp = paths.metadata_path.with_name(paths.metadata_path.name + ".tmp")
    fd = open_fd(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # 4 system calls, not 8; no symlink
    try:
        os.write(fd, f"{commit}\n{etag}\n{time.time()}\n".encode())
    finally:
        os.close(fd)
    os.replace(tmp, paths.metadata_path)


def forget(paths: DownloadPaths) -> None:
    """Drop a file's metadata so the next download fetches it again."""
    paths.metadata_path.unlink(missing_ok=True)


def partial_size(paths: DownloadPaths, etag: str, size: int | None = None) -> int:
    """Bytes of an interrupted download kept for resume (0 if none): a single stream's partial, or, given the
    file's ``size``, a segmented one's (the bytes its record counts)."""
    incomplete = paths.incomplete_path(etag)
    try:
        single = incomplete.stat().st_size
    except OSError:
        single = 0
    if size is None:
        return single
    from .partials import segmented_bytes

    return max(min(single, size), segmented_bytes(incomplete, size, etag))


def has_partials(local_dir: Path) -> bool:
    """Whether an interrupted download left a partial file in this repo folder (names only, no stat)."""
    return any(name.endswith(".incomplete") for _dir, _subdirs, names in os.walk(hf_dir(local_dir) / "download")
               for name in names)
