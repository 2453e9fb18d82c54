"""Repo references and where each repo lives under the root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RepoType = Literal["model", "dataset"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, order=True)
class RepoRef:
    """A Hub repo: ``org/name`` and its type."""

    repo_type: RepoType
    repo_id: str

    def __post_init__(self) -> None:
        if not _REPO_ID.match(self.repo_id) or ".." in self.repo_id:
            raise ValueError(f"not a Hub repo id: {self.repo_id!r} (expected org/name)")

    @property
    def org(self) -> str:
        return self.repo_id.split("/")[0]

    @property
    def folder_name(self) -> str:
        return self.repo_id.replace("/", "_")

    def relpath(self) -> str:
        """Folder relative to the root: ``models/org/org_name`` or ``datasets/org_name``."""
        if self.repo_type == "model":
            return f"models/{self.org}/{self.folder_name}"
        return f"datasets/{self.folder_name}"

    def local_dir(self, root: Path) -> Path:
        return root / self.relpath()

    def __str__(self) -> str:
        return self.repo_id if self.repo_type == "model" else f"{self.repo_id} (dataset)"

