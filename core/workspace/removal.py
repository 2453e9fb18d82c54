"""``rm``: a repo's folder, its runtime-view entries, its lines in the checksum files and its rows in the
inventories, with the bytes it frees counted from the disk (a hard link counted once, and only when every link
goes) and the local repos that still need it named."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..local import inventory
from ..local.record import read_planned_sizes
from ..local.updates import follow_in_exports
from ..repos import RepoRef
from ..runtime.readiness import readiness
from ..runtime.views import CHECKPOINTS, HF_HUB_CACHE, TORCH_HOME, folder_name, view_names
from ..sources import Source
from .space import Tally, planted


@dataclass
class Removal:
    """One repo's removal (or, in a dry run, what it would be)."""

    repo_id: str
    repo_type: str
    path: str  # the repo folder, root-relative
    files: int = 0
    bytes_freed: int = 0
    needed_by: list[str] = field(default_factory=list)  # local repos whose loader reaches it
    removed: bool = False
    reason: str = ""  # why it was not removed

    def data(self) -> dict[str, Any]:
        return asdict(self)


def _views_of(root: Path, ref: RepoRef, catalog: Catalog) -> list[Path]:
    """The view folders (HF cache) and links (TORCH_HOME) made for this repo."""
    planned = read_planned_sizes(ref.local_dir(root))
    names = view_names(catalog, planned) if planned is not None else [ref.repo_id]
    out = [root / HF_HUB_CACHE / folder_name(ref.repo_type, n) for n in names]
    parts = ref.local_dir(root) / CHECKPOINTS
    if parts.is_dir():
        out += [root / TORCH_HOME / CHECKPOINTS / p.name for p in parts.iterdir()]
    return out


def needed_by(root: Path, ref: RepoRef, catalog: Catalog, sources: dict[str, Source]) -> list[str]:
    """The other local models whose loader reaches ``ref`` (encodec_32khz under a stereo model)."""
    out = []
    for repo_type, folder in inventory.repo_folders(root):
        planned = read_planned_sizes(folder) if repo_type == "model" else None
        if planned is None or planned.ref == ref:
            continue
        state = readiness(root, planned.ref, catalog, sources)
        if state is not None and any(catalog.canonical(RepoRef("model", d.repo_id)) == ref
                                     for k in state.expected for d in state.needs[k].deps):
            out.append(planned.ref.repo_id)
    return out


def remove(root: Path, refs: list[RepoRef], catalog: Catalog, sources: dict[str, Source], *,
           dry_run: bool) -> list[Removal]:
    """Remove each repo (or, ``dry_run``, say what would go and what it frees); the inventories and checksum
    files are rewritten without them when they exist."""
    out = []
    for ref in refs:
        folder = ref.local_dir(root)
        row = Removal(ref.repo_id, ref.repo_type, folder.relative_to(root).as_posix())
        out.append(row)
        if planted(root, folder):
            row.reason = "a symbolic link stands on its way (another user may have planted it): not removed"
            continue
        if not folder.is_dir():
            row.reason = "not downloaded here"
            continue
        tally = Tally()
        tally.add_tree(folder)
        views = _views_of(root, ref, catalog)
        tally.add_trees((v for v in views if v.is_dir()), count=False)
        for link in (v for v in views if v.is_file() and not v.is_symlink()):
            tally.add_file(link.lstat())
        row.files, row.bytes_freed = tally.files, tally.freed
        row.needed_by = needed_by(root, ref, catalog, sources)
        if dry_run:
            continue
        shutil.rmtree(folder)  # fd-based: a symbolic link inside is removed, never followed
        for v in views:
            if v.is_dir() and not v.is_symlink():
                shutil.rmtree(v)
            elif v.exists() or v.is_symlink():
                v.unlink()
        row.removed = True
    if any(r.removed for r in out):  # the checksum lines of files now gone go, and the inventories are made again
        follow_in_exports(root, [root / r.path for r in out if r.removed])
    return out

