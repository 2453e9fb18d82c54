"""The default catalog: the seed's models and datasets, in order (a data file beside this module)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from .repos import RepoRef

CATALOG_FILE = Path(__file__).with_name("catalog.json")


@cache
def catalog() -> tuple[RepoRef, ...]:
    """Every catalog entry, models first, in the file's order."""
    data = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return tuple(RepoRef("model", i) for i in data["models"]) + tuple(RepoRef("dataset", i) for i in data["datasets"])


def group(repo_type: str) -> list[RepoRef]:
    """The catalog's models or datasets."""
    return [r for r in catalog() if r.repo_type == repo_type]
