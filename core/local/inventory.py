"""The inventories: what each local repo folder holds, written as the three JSON files every front end shares."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..repos import RepoType
from ..sizes import human
from . import metadata
from .jsonio import write_json_atomic
from .origin import read_origin
from .record import read_planned_sizes
from .safeio import make_dirs
from .walk import FileTable, walk

SCHEMA_VERSION = 1
README_EXCERPT_CHARS = 500
TOP_FILES = 10
INVENTORY_FILES = {
    "models": "models/inventory.json",
    "datasets": "datasets/inventory.json",
    "combined": "inventory/combined_inventory.json",
}


@dataclass
class LocalRepo:
    """One repo folder under the root, as found on disk."""

    repo_id: str
    repo_type: RepoType
    path: str
    local_dir: Path
    snapshot_id: str | None = None
    size_bytes: int = 0
    file_count: int = 0
    complete: bool = False
    table: FileTable = field(default_factory=lambda: FileTable([]))
    readme_excerpt: str | None = None

    @property
    def files(self) -> list[tuple[str, int]]:
        """Every ``(relative path, size)``, sorted by path."""
        return self.table.sorted()

    def top_files(self, n: int = TOP_FILES) -> list[tuple[str, int]]:
        return self.table.largest(n)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def repo_folders(root: Path) -> Iterator[tuple[RepoType, Path]]:
    """Every repo folder: ``models/<org>/<org_name>`` and ``datasets/<org_name>``, sorted."""
    models = root / "models"
    if models.is_dir():
        for org in sorted(p for p in models.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for d in sorted(p for p in org.iterdir() if p.is_dir() and not p.name.startswith(".")):
                yield "model", d
    datasets = root / "datasets"
    if datasets.is_dir():
        for d in sorted(p for p in datasets.iterdir() if p.is_dir() and not p.name.startswith(".")):
            yield "dataset", d


def guess_repo_id(repo_type: RepoType, local_dir: Path) -> str:
    """The id a folder name stands for, when the folder has no record: ``org_name`` under its org, else the
    first underscore splits org and name."""
    name = local_dir.name
    if repo_type == "model":
        org = local_dir.parent.name
        return f"{org}/{name[len(org) + 1:]}" if name.startswith(org + "_") else f"{org}/{name}"
    org, _, rest = name.partition("_")
    return f"{org}/{rest}" if rest else name


def read_readme_excerpt(local_dir: Path) -> str | None:
    """README.md without its YAML front matter, first 500 characters."""
    try:
        text = (local_dir / "README.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end != -1:
            text = text[end + 4:].split("\n", 1)[1] if "\n" in text[end + 4:] else ""
    text = text.strip()
    return text[:README_EXCERPT_CHARS] if text else None


def scan_repo(root: Path, repo_type: RepoType, local_dir: Path) -> LocalRepo:
    table = walk(local_dir)  # first, while the heap is small: a fork copies its page tables
    planned = read_planned_sizes(local_dir)
    repo_id = planned.ref.repo_id if planned else guess_repo_id(repo_type, local_dir)
    snapshot = planned.commit if planned else _snapshot_from_metadata(local_dir)
    complete = planned is not None and not planned.updating and table.has_all(planned.rows()) \
        and not metadata.has_partials(local_dir)
    return LocalRepo(
        repo_id=repo_id, repo_type=repo_type, path=local_dir.relative_to(root).as_posix(), local_dir=local_dir,
        snapshot_id=snapshot, size_bytes=table.total, file_count=len(table), complete=complete,
        table=table, readme_excerpt=read_readme_excerpt(local_dir) if repo_type == "dataset" else None,
    )


def _snapshot_from_metadata(local_dir: Path) -> str | None:
    """The commit of the first ``.metadata`` record found (folders fetched by ``hf download``)."""
    for folder, _dirs, names in os.walk(metadata.hf_dir(local_dir) / "download"):
        for name in names:
            if name.endswith(".metadata"):
                try:
                    commit = (Path(folder) / name).read_text(encoding="utf-8").split("\n", 1)[0].strip()
                except OSError:
                    continue
                if len(commit) == 40:
                    return commit
    return None


def scan(root: Path) -> list[LocalRepo]:
    """Every local repo folder, in a stable order."""
    return [scan_repo(root, t, d) for t, d in repo_folders(root)]


def _repo_json(r: LocalRepo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "repo_id": r.repo_id, "repo_type": r.repo_type, "path": r.path, "snapshot_id": r.snapshot_id,
        "size_bytes": r.size_bytes, "size_human": human(r.size_bytes), "file_count": r.file_count,
        "complete": r.complete,
    }
    if r.repo_type == "model":
        out["files"] = [{"path": p, "size_bytes": s} for p, s in r.files]
    else:
        out["readme_excerpt"] = r.readme_excerpt
        out["top_files"] = [{"path": p, "size_bytes": s} for p, s in r.top_files()]
    origin = read_origin(r.local_dir)
    if origin is not None:  # an off-Hub source: where its parts came from, their checksums, licence, citation
        out["source"] = origin
    return out


def build(repos: list[LocalRepo], generated_at: str | None = None) -> dict[str, dict[str, Any]]:
    """The three inventory documents, keyed ``models`` / ``datasets`` / ``combined``."""
    at = generated_at or now_iso()
    docs: dict[str, dict[str, Any]] = {}
    totals: dict[str, dict[str, Any]] = {}
    entries = [_repo_json(r) for r in repos]  # once per repo: a dataset's top files cost a pass over its files
    for kind, repo_type in (("models", "model"), ("datasets", "dataset")):
        group = [e for e in entries if e["repo_type"] == repo_type]
        total = sum(e["size_bytes"] for e in group)
        docs[kind] = {"schema_version": SCHEMA_VERSION, "kind": kind, "generated_at": at, "total_bytes": total,
                      "total_human": human(total), "repos": group}
        totals[kind] = {"repos": len(group), "bytes": total, "human": human(total)}
    all_bytes = totals["models"]["bytes"] + totals["datasets"]["bytes"]
    totals["all"] = {"repos": len(repos), "bytes": all_bytes, "human": human(all_bytes)}
    docs["combined"] = {
        "schema_version": SCHEMA_VERSION, "generated_at": at, "totals": totals,
        "repos": [{k: e[k] for k in ("repo_id", "repo_type", "path", "snapshot_id", "size_bytes", "size_human",
                                     "complete", "source") if k in e} for e in entries],
    }
    return docs


def write(root: Path, repos: list[LocalRepo] | None = None, *, docs: dict[str, Any] | None = None) -> dict[str, Path]:
    """Scan (unless given the repos or the built documents) and write the three inventories atomically; returns
    where."""
    if docs is None:
        docs = build(scan(root) if repos is None else repos)
    out = {}
    for kind, rel in INVENTORY_FILES.items():
        make_dirs((root / rel).parent, root)
        write_json_atomic(root / rel, docs[kind])
        out[kind] = root / rel
    return out
