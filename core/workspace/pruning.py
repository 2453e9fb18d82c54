"""``prune``: what no running download uses. In each repo folder not being downloaded: partial files (a single
stream's ``.incomplete``, a segmented one's and its progress record), ``.metadata`` records of files that are
gone, and temp files a killed run left; a repo folder whose files are all gone (only its records left); and the
runtime views of repos that are gone; the staging folder of an unpack cut off. Each with the bytes it frees on
the disk."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..local import metadata
from ..local.inventory import repo_folders
from ..local.safeio import process_alive, temp_pid
from ..runtime.views import refresh_views
from .packs import STAGING
from .space import planted

PARTIAL_ENDS = (".incomplete", ".segmented.json")


@dataclass(frozen=True)
class Pruned:
    """One thing pruned (or, in a dry run, that would be)."""

    path: str  # root-relative
    bytes: int
    why: str  # partial, stale record, temp file, empty repo, view

    def data(self) -> dict[str, Any]:
        return asdict(self)


def _size(st: os.stat_result) -> int:
    return st.st_blocks * 512 if st.st_nlink <= 1 else 0  # a file linked elsewhere frees nothing


def _dead_temp(name: str) -> bool:
    """A temp file of ``create_temp``'s whose process is gone."""
    pid = temp_pid(name)
    return pid is not None and pid != os.getpid() and not process_alive(pid)


def find(root: Path, in_use: set[tuple[str, str]]) -> list[Pruned]:
    """What prune would remove; repos in ``in_use`` (``(repo_type, repo folder)``) are left alone."""
    out: list[Pruned] = []
    for repo_type, folder in repo_folders(root):
        if (repo_type, folder.relative_to(root).as_posix()) in in_use or planted(root, folder):
            continue  # a running download's, or reached through a symbolic link someone planted
        out += _in_repo(root, folder)
    staging = root / STAGING  # no unpack runs while the root's lock is held for this
    if staging.is_dir() and not staging.is_symlink():
        freed = sum(_size(os.lstat(Path(d) / f)) for d, _, files in os.walk(staging) for f in files)
        out.append(Pruned(STAGING + "/", freed, "an unpack cut off: the files it had checked"))
    return out


def _in_repo(root: Path, folder: Path) -> list[Pruned]:
    """One repo folder, walked by listing: a data file is counted by its name; a ``.metadata`` record is
    checked against its data folder's listing (one listing a folder, no stat a file); only what is pruned is
    stat'ed, for its size."""
    out: list[Pruned] = []
    rel = folder.relative_to(root).as_posix()
    records = metadata.hf_dir(folder)
    data_files = 0
    stack: list[tuple[Path, str]] = [(folder, "")]  # (a folder, its path below the repo folder, "" or "a/b/")
    while stack:
        here, inside = stack.pop()
        in_records = inside.startswith(".cache/huggingface/")
        in_download = inside.startswith(".cache/huggingface/download/")
        listed: set[str] | None = None  # the data folder a metadata folder stands for, listed once
        try:
            with os.scandir(here) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append((here / e.name, f"{inside}{e.name}/"))
                continue
            name = e.name
            if _dead_temp(name):
                why = "temp file a killed run left"
            elif in_records and name.endswith(PARTIAL_ENDS):
                why = "partial download"
            elif in_download and name.endswith(".metadata"):
                if listed is None:
                    data_dir = folder / inside[len(".cache/huggingface/download/"):]
                    try:
                        listed = set(os.listdir(data_dir))
                    except OSError:
                        listed = set()
                if name[: -len(".metadata")] in listed:
                    continue
                why = "record of a file that is gone"
            else:
                data_files += not in_records and not inside.startswith(".cache/")
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.append(Pruned(f"{rel}/{inside}{name}", _size(st), why))
    if data_files == 0 and records.is_dir():
        out.append(Pruned(rel + "/", 0, "a repo whose files are all gone (its records only)"))
    return out


def prune(root: Path, in_use: set[tuple[str, str]], *, dry_run: bool) -> list[Pruned]:
    """Remove what ``find`` finds (unless ``dry_run``), then the views of repos that are gone."""
    found = find(root, in_use)
    if dry_run:
        return found
    for item in found:
        target = root / item.path.rstrip("/")
        if item.path.endswith("/"):
            shutil.rmtree(target, ignore_errors=True)
        else:
            try:
                if stat.S_ISREG(os.lstat(target).st_mode):
                    os.unlink(target)
            except FileNotFoundError:
                pass
    views = refresh_views(root)
    return found + ([Pruned("views/", 0, f"views of repos that are gone: {views.removed} entries")]
                    if views.removed else [])
