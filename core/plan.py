"""The plan: per repo, which files to fetch, how many bytes that takes, what is already here, and free disk."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from . import localstate
from .errors import describe, is_repo_level
from .listing import Listing, RemoteFile, fetch_listing
from .patterns import select
from .repos import RepoRef
from .safety import unsafe_entries
from .settings import Settings

Action = Literal["fetch", "check", "skip"]
RepoStatus = Literal["available", "complete", "gated", "not found", "error"]


@dataclass(frozen=True)
class FilePlan:
    """``skip``: complete and unchanged; ``check``: present at its size but unrecorded (hash, then adopt or
    fetch); ``fetch``: missing, partial (``present`` bytes kept for resume) or changed."""

    remote: RemoteFile
    action: Action
    present: int = 0

    @property
    def to_fetch(self) -> int:
        return 0 if self.action == "skip" else self.remote.size - (self.present if self.action == "fetch" else 0)


@dataclass
class RepoPlan:
    ref: RepoRef
    local_dir: Path
    status: RepoStatus = "available"
    message: str | None = None
    listing: Listing | None = None
    files: list[FilePlan] = field(default_factory=list)
    unsafe: dict[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in ("available", "complete")

    @property
    def bytes_total(self) -> int:
        return sum(f.remote.size for f in self.files)

    @property
    def bytes_to_fetch(self) -> int:
        return sum(f.to_fetch for f in self.files)

    @property
    def bytes_present(self) -> int:
        return sum(f.remote.size - f.to_fetch for f in self.files)

    @property
    def pending(self) -> list[FilePlan]:
        return [f for f in self.files if f.action != "skip"]


@dataclass
class Plan:
    root: Path
    repos: list[RepoPlan]
    free_bytes: int
    min_free: int

    @property
    def bytes_to_fetch(self) -> int:
        return sum(r.bytes_to_fetch for r in self.repos if r.ok)

    @property
    def bytes_present(self) -> int:
        return sum(r.bytes_present for r in self.repos if r.ok)

    @property
    def bytes_needed(self) -> int:
        """What must be free before starting: the bytes to fetch plus the safety margin."""
        return self.bytes_to_fetch + self.min_free if self.bytes_to_fetch else 0

    @property
    def space_ok(self) -> bool:
        return self.free_bytes >= self.bytes_needed


def free_space(root: Path) -> int:
    """Free bytes on the disk that holds ``root`` (or its nearest existing parent)."""
    p = root
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def plan_files(local_dir: Path, files: Sequence[RemoteFile]) -> list[FilePlan]:
    """Compare each listed file with what the folder holds; reads only, never writes."""
    out = []
    for f in files:
        paths = localstate.download_paths(local_dir, f.path)
        meta = localstate.read_metadata(paths)
        if localstate.is_fresh(paths, meta, f.etag, f.size):
            out.append(FilePlan(f, "skip", f.size))
            continue
        partial = localstate.partial_size(paths, f.etag)
        if 0 < partial <= f.size:
            out.append(FilePlan(f, "fetch", partial))
        elif meta is None and paths.file_path.is_file() and paths.file_path.stat().st_size == f.size:
            out.append(FilePlan(f, "check", 0))
        else:
            out.append(FilePlan(f, "fetch", 0))
    return out


def make_api(settings: Settings) -> HfApi:
    return HfApi(endpoint=settings.endpoint, token=settings.token)


def plan_repo(api: HfApi, settings: Settings, ref: RepoRef, include: Sequence[str] = (),
              exclude: Sequence[str] = ()) -> RepoPlan:
    """List one repo and compare with the local folder. Errors become the plan's status, never exceptions."""
    rp = RepoPlan(ref, ref.local_dir(settings.root), include=tuple(include), exclude=tuple(exclude))
    try:
        rp.listing = fetch_listing(api, ref)
    except RepositoryNotFoundError as e:
        rp.status, rp.message = "not found", describe(e, token=settings.token)
        return rp
    except Exception as e:
        rp.status = "gated" if isinstance(e, GatedRepoError) else "error"
        rp.message = describe(e, token=settings.token)
        return rp
    chosen = select(rp.listing.files, include, exclude)
    rp.unsafe = unsafe_entries([f.path for f in chosen])
    rp.files = plan_files(rp.local_dir, [f for f in chosen if f.path not in rp.unsafe])
    if rp.listing.gated and rp.pending:
        _probe_access(settings, rp)
    if rp.ok and not rp.pending:
        rp.status = "complete"
    return rp


def _probe_access(settings: Settings, rp: RepoPlan) -> None:
    """For a gated repo, ask for one file's metadata with our token, so the plan already says 'needs a token'."""
    assert rp.listing is not None
    f = rp.pending[0].remote
    url = hf_hub_url(rp.ref.repo_id, f.path, repo_type=rp.ref.repo_type, revision=rp.listing.commit,
                     endpoint=settings.endpoint)
    try:
        get_hf_file_metadata(url, token=settings.token, endpoint=settings.endpoint)
    except Exception as e:
        if is_repo_level(e):
            rp.status = "gated"
            rp.message = describe(e, token=settings.token)


def make_plan(settings: Settings, refs: Sequence[RepoRef], include: Sequence[str] = (), exclude: Sequence[str] = (),
              on_repo: Callable[[RepoPlan], object] | None = None) -> Plan:
    """Plan every repo (listed concurrently), in the order given."""
    api = make_api(settings)

    def one(ref: RepoRef) -> RepoPlan:
        rp = plan_repo(api, settings, ref, include, exclude)
        if on_repo:
            on_repo(rp)
        return rp

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(refs)))) as pool:
        repos = list(pool.map(one, refs))
    return Plan(settings.root, repos, free_space(settings.root), settings.min_free)
