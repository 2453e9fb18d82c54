"""What the Hub lists for a repo: plain data, importable without huggingface_hub (so headless commands start fast)."""

from __future__ import annotations

from dataclasses import dataclass

from .repos import RepoRef


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file as the Hub lists it: ``sha256`` for an LFS file, else ``blob_id`` (git's sha1 of the file); the one
    set is the hash the Hub serves as the ETag and ``verify`` checks."""

    path: str
    size: int
    blob_id: str
    sha256: str | None = None

    @property
    def etag(self) -> str:
        """The hash the Hub serves as the file's ETag, and the one ``verify`` checks."""
        return self.sha256 or self.blob_id

    @property
    def algorithm(self) -> str:
        return "sha256" if self.sha256 else "git-sha1"


@dataclass(frozen=True)
class Listing:
    """A repo's files at one commit."""

    ref: RepoRef
    commit: str
    files: list[RemoteFile]
    gated: bool = False
