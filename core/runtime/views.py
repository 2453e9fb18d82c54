"""The runtime views inside a root: the HF cache layout huggingface_hub reads offline, and demucs' TORCH_HOME.

``views/huggingface/hub/models--org--name/{blobs,refs/main,snapshots/<commit>/…}`` holds, under every name the
loaders ask for (the catalog id and its aliases: ``t5-base`` beside ``google-t5/t5-base``), one **hard link**
per complete workspace file, and ``views/torch/hub/checkpoints/`` the same for demucs' weights. Hard links,
not copies: no byte is stored twice (``du`` counts a hard link once). Hard links, not symbolic links:

- a loader's writes never reach the workspace. huggingface_hub and torch.hub write a file under a temporary
  name and rename it into place, which replaces the view's link and leaves the workspace file as it was; and
  ``hf cache rm`` or ``hf cache prune`` on the view deletes links, where a symbolic link's target (what the
  cache scan resolves to) would be the workspace file itself;
- a loader that has a file open while a download replaces it keeps reading the version it started with.

A snapshot entry is a regular file, the layout huggingface_hub itself uses where it cannot make symbolic
links, which ``hf cache ls`` lists and ``hf cache verify`` checks. Where the file system refuses a hard link
(the view on another device, a protected-hardlinks policy), a relative symbolic link is made instead and the
result says so. Refreshing compares inode numbers that the folder listings carry, so an unchanged view costs
two directory reads per folder and no stat per file."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import Catalog, default_catalog
from ..local.inventory import repo_folders
from ..local.origin import read_origin
from ..local.record import PlannedSizes, read_planned_sizes, unpack
from ..local.safeio import make_dirs
from .linkdirs import Dirs, entries, put_link, put_text, remove

VIEWS = "views"
HF_HOME = f"{VIEWS}/huggingface"
HF_HUB_CACHE = f"{HF_HOME}/hub"
TORCH_HOME = f"{VIEWS}/torch"
CHECKPOINTS = "hub/checkpoints/"  # torch.hub's folder under TORCH_HOME, and where demucs' parts land in its repo
MARK = ".musicgen-tui-view"  # in each repo folder of the view this tool made (one it may remove again)
_HF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class ViewResult:
    """What a refresh did: repos in the view, links made, links already right, entries removed."""

    repos: int = 0
    linked: int = 0
    kept: int = 0
    removed: int = 0
    symbolic: int = 0  # links made symbolic because the file system refused a hard link
    names: list[str] = field(default_factory=list)  # the view folders written, ``models--org--name``

    def summary(self) -> str:
        kind = f", {self.symbolic} as symbolic links (no hard link here)" if self.symbolic else ""
        return (f"runtime views: {self.repos} repos, {self.linked} links made, {self.kept} kept, "
                f"{self.removed} removed{kind}")


def folder_name(repo_type: str, repo_id: str) -> str:
    """huggingface_hub's cache folder of a repo: ``models--org--name``."""
    return f"{repo_type}s--" + repo_id.replace("/", "--")


def view_names(catalog: Catalog, planned: PlannedSizes) -> list[str]:
    """Every name a loader may ask for this repo by: its id and the catalog's aliases that are Hub names."""
    entry = catalog.find(planned.ref)
    names = [planned.ref.repo_id, *(entry.aliases if entry is not None else ())]
    return list(dict.fromkeys(n for n in names if _HF_NAME.match(n)))


def refresh_views(root: Path, local_dirs: Iterable[Path] | None = None, catalog: Catalog | None = None) -> ViewResult:
    """Bring the views in line with the workspace: for ``local_dirs`` (repo folders), or for every repo folder
    when None, which also removes the view folders of repos that are gone."""
    catalog = catalog or default_catalog()
    whole = local_dirs is None
    folders = [d for _, d in repo_folders(root)] if local_dirs is None else list(local_dirs)
    result = ViewResult()
    make_dirs(root / HF_HUB_CACHE, root)
    make_dirs(root / TORCH_HOME / CHECKPOINTS.rstrip("/"), root)
    with Dirs(root / HF_HUB_CACHE) as hub, Dirs(root / TORCH_HOME) as torch:
        for local_dir in folders:
            planned = read_planned_sizes(local_dir) if local_dir.is_dir() else None
            if planned is None:
                continue
            if read_origin(local_dir) is not None:  # an off-Hub repo: only torch.hub's checkpoints have a view
                _sync_checkpoints(torch, root / TORCH_HOME, local_dir, planned, result)
                continue
            if not _COMMIT.match(planned.commit):
                continue
            result.repos += 1
            for name in view_names(catalog, planned):
                folder = folder_name(planned.ref.repo_type, name)
                _sync_repo(hub, root / HF_HUB_CACHE, folder, local_dir, planned, result)
                result.names.append(folder)
        if whole:
            _drop_gone(hub, set(result.names), result)
    return result


def after_run(root: Path, local_dirs: list[Path]) -> list[str]:
    """The views after a download: what changed, in a line (none when nothing did); a failure is said there,
    never fatal to the download."""
    try:
        done = refresh_views(root, local_dirs)
    except OSError as e:
        return [f"runtime views not refreshed: {e}"]
    return [done.summary()] if done.linked or done.removed else []


def _sync_repo(hub: Dirs, top: Path, folder: str, local_dir: Path, planned: PlannedSizes,
               result: ViewResult) -> None:
    """One repo folder of the HF view: its mark, ``blobs/``, ``refs/main`` and the one snapshot."""
    fd = hub.fd(folder)
    put_text(fd, MARK, "made by musicgen-tui from the workspace; refreshed after every download\n")
    hub.fd(f"{folder}/blobs")
    put_text(hub.fd(f"{folder}/refs"), "main", planned.commit)
    snaps = hub.fd(f"{folder}/snapshots")
    for e in entries(snaps):
        if e.name != planned.commit:  # the snapshot of an older commit: the workspace holds the new one only
            remove(snaps, e.name)
            result.removed += 1
    base = f"{folder}/snapshots/{planned.commit}"
    hub.fd(base)
    keep_dirs: dict[str, set[str]] = {}  # folder -> its subfolders on the way to a planned folder
    for prefix in planned.folders:
        parts = prefix.rstrip("/").split("/") if prefix else []
        for i in range(len(parts)):
            keep_dirs.setdefault("/".join(parts[:i]), set()).add(parts[i])
    for prefix, packed in planned.folders.items():
        names, sizes, _ = unpack(packed)
        rel = prefix.rstrip("/")
        if any(part in ("", ".", "..") for part in rel.split("/")) and rel:
            continue  # a record edited to climb out: its files get no view
        where = f"{base}/{rel}" if rel else base
        _sync_folder(local_dir / rel, hub.fd(where), top / base / rel, dict(zip(names, sizes, strict=True)),
                     keep_dirs.get(rel, set()), True, result)
        if rel:
            hub.release(where)


def _sync_checkpoints(torch: Dirs, top: Path, local_dir: Path, planned: PlannedSizes, result: ViewResult) -> None:
    """demucs' weights in ``TORCH_HOME/hub/checkpoints``: added and replaced, never pruned (torch.hub's own
    downloads may sit beside them)."""
    packed = planned.folders.get(CHECKPOINTS)
    if packed is None:
        return
    result.repos += 1
    names, sizes, _ = unpack(packed)
    _sync_folder(local_dir / CHECKPOINTS, torch.fd(CHECKPOINTS.rstrip("/")), top / CHECKPOINTS,
                 dict(zip(names, sizes, strict=True)), set(), False, result)


def _sync_folder(source: Path, fd: int, folder: Path, wanted: dict[str, int], subdirs: set[str], prune: bool,
                 result: ViewResult) -> None:
    """Link each complete file of ``source`` named in ``wanted`` (name -> recorded size) into ``fd``; unless
    the link already is that file (same inode), or a symbolic link to it."""
    try:
        have = {e.name: e.inode() for e in os.scandir(source)}
    except (FileNotFoundError, NotADirectoryError):
        have = {}
    there = {e.name: e for e in entries(fd)}
    for name, size in wanted.items():
        inode, entry = have.get(name), there.pop(name, None)
        if inode is None:  # not downloaded (yet): no entry, so a loader fails on it instead of reading a stale one
            if entry is not None:
                remove(fd, name)
                result.removed += 1
            continue
        same = entry is not None and (entry.inode() == inode
                                      or (entry.is_symlink() and _points_at(fd, name, folder, source / name)))
        if same:
            result.kept += 1
            continue
        st = os.lstat(source / name)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:  # a partial or foreign file is never shown
            if entry is not None:
                remove(fd, name)
                result.removed += 1
            continue
        if not put_link(source / name, fd, name, folder, hard=True):
            result.symbolic += 1
        result.linked += 1
    if prune:
        for name in there:
            if name not in subdirs and name != MARK:
                remove(fd, name)
                result.removed += 1


def _points_at(fd: int, name: str, folder: Path, target: Path) -> bool:
    """A symbolic link made where no hard link could be: right when it names ``target`` as ``put_link`` would."""
    try:
        return os.readlink(name, dir_fd=fd) == os.path.relpath(target, folder)
    except OSError:
        return False


def _drop_gone(hub: Dirs, kept: set[str], result: ViewResult) -> None:
    """View folders this tool made for repos no longer in the workspace are removed; others are left alone."""
    top = hub.fd("")
    for e in entries(top):
        if e.name in kept or not e.is_dir(follow_symlinks=False):
            continue
        try:
            os.lstat(f"{e.name}/{MARK}", dir_fd=top)
        except OSError:
            continue
        remove(top, e.name)
        result.removed += 1


def view_problems(root: Path, local_dir: Path, names: list[str], commit: str, paths: Iterable[str],
                  repo_type: str = "model") -> list[str]:
    """Where the HF view of a repo differs from the workspace, for the files ``paths`` (empty: it is current)."""
    top = root / HF_HUB_CACHE
    wrong = []
    for name in names:
        folder = top / folder_name(repo_type, name)
        try:
            ref = (folder / "refs" / "main").read_text(encoding="utf-8")
        except OSError:
            wrong.append(f"no view of {name}")
            continue
        if ref != commit:
            wrong.append(f"the view of {name} is at {ref[:12]}, the workspace at {commit[:12]}")
            continue
        for p in paths:
            try:
                same = os.path.samefile(folder / "snapshots" / commit / p, local_dir / p)
            except OSError:
                same = False
            if not same:
                wrong.append(f"the view of {name} does not show {p} as the workspace has it")
    return wrong
