"""The plan: per repo, which files to fetch, how many bytes that takes, what is already here, and free disk."""

from __future__ import annotations

import io
import pickletools
import re
import shutil
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers, disable_progress_bars

from . import localstate
from .catalog import Catalog, default_catalog
from .errors import describe, is_repo_level
from .listing import Listing, RemoteFile, fetch_listing
from .patterns import select
from .profiles import apply_profile
from .repos import RepoRef
from .safety import unsafe_entries
from .settings import Settings

Action = Literal["fetch", "check", "skip"]
RepoStatus = Literal["available", "complete", "gated", "not on endpoint", "error"]
STATUS_LABELS: dict[str, str] = {
    "available": "available", "complete": "already complete", "gated": "needs a token",
    "not on endpoint": "not on this endpoint", "error": "error",
}
REFERENCE_MAX = 4096  # a compression_state_dict.bin this small names a codec repo instead of holding weights
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


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
    profile: str = "full"
    requested_id: str | None = None
    dependency_of: str | None = None
    notes: list[str] = field(default_factory=list)
    depends: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("available", "complete")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

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
              exclude: Sequence[str] = (), profile: str = "full", fp32: bool = False,
              catalog: Catalog | None = None, dependency_of: str | None = None,
              find_references: bool = True, revision: str | None = None) -> RepoPlan:
    """List one repo and compare with the local folder. Errors become the plan's status, never exceptions."""
    catalog = catalog or default_catalog()
    requested = ref
    ref = catalog.canonical(ref)
    entry = catalog.find(ref)
    rp = RepoPlan(ref, ref.local_dir(settings.root), include=tuple(include), exclude=tuple(exclude),
                  profile=profile if ref.repo_type == "model" else "full", dependency_of=dependency_of)
    try:
        rp.listing = fetch_listing(api, ref, revision)
    except RevisionNotFoundError:
        rp.status, rp.message = "error", f"revision {revision or 'main'!r} not found on this endpoint"
        return rp
    except RepositoryNotFoundError:
        rp.status = "not on endpoint"
        where = entry.elsewhere() if entry is not None else None
        hint = where or "check the id and whether it is a model or a dataset"
        rp.message = f"not on this endpoint ({settings.endpoint}); {hint}"
        return rp
    except Exception as e:
        rp.status = "gated" if isinstance(e, GatedRepoError) else "error"
        rp.message = describe(e, token=settings.token)
        return rp
    if rp.listing.ref != ref:  # the Hub's own spelling wins: one folder per repo, however it was typed
        ref = rp.ref = rp.listing.ref
        rp.local_dir = ref.local_dir(settings.root)
    if requested.repo_id != ref.repo_id:
        rp.requested_id = requested.repo_id
        rp.notes.append(f"{requested.repo_id} is spelled {ref.repo_id} on the Hub")
    profiled, note = apply_profile(rp.listing.files, rp.profile, ref.repo_type, fp32)
    if note:
        rp.notes.append(note)
    chosen = select(profiled, include, exclude)
    rp.unsafe = unsafe_entries([f.path for f in chosen])
    rp.files = plan_files(rp.local_dir, [f for f in chosen if f.path not in rp.unsafe])
    if rp.listing.gated and rp.pending:
        _probe_access(settings, rp)
    rp.depends = list(entry.depends) if entry is not None else []
    if rp.ok and find_references:
        for dep in _referenced_codecs(settings, rp):
            if dep.lower() not in (d.lower() for d in rp.depends):
                rp.depends.append(dep)
                rp.notes.append(f"compression_state_dict.bin points at {dep}")
    if rp.ok and not rp.pending:
        rp.status = "complete"
    return rp


def _referenced_codecs(settings: Settings, rp: RepoPlan) -> list[str]:
    """Codec repos named by a reference-sized ``compression_state_dict.bin`` (read into memory, never saved)."""
    assert rp.listing is not None
    ref_file = next((f.remote for f in rp.files if f.remote.path == "compression_state_dict.bin"
                     and f.remote.size <= REFERENCE_MAX), None)
    if ref_file is None:
        return []
    paths = localstate.download_paths(rp.local_dir, ref_file.path)
    try:
        data = paths.file_path.read_bytes() if paths.file_path.is_file() else b""
        if len(data) != ref_file.size:
            buf = io.BytesIO()
            url = hf_hub_url(rp.ref.repo_id, ref_file.path, repo_type=rp.ref.repo_type, revision=rp.listing.commit,
                             endpoint=settings.endpoint)
            disable_progress_bars()
            http_get(url, buf, headers=build_hf_headers(token=settings.token), expected_size=ref_file.size)
            data = buf.getvalue()
    except Exception:
        return []
    return repo_ids_in_pickle(data)


def repo_ids_in_pickle(data: bytes) -> list[str]:
    """Repo ids among the strings of a pickle (plain, or inside a torch zip), read with pickletools: the
    opcodes are parsed, nothing is ever unpickled or run."""
    blobs = [data]
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                blobs = [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
        except (zipfile.BadZipFile, OSError):
            return []
    found: set[str] = set()
    for blob in blobs:
        try:
            for _op, arg, _pos in pickletools.genops(blob):
                if isinstance(arg, str) and _REPO_ID.match(arg) and "encodec" in arg.lower():
                    found.add(arg)
        except Exception:
            continue
    return sorted(found)


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
              on_repo: Callable[[RepoPlan], object] | None = None, profile: str | dict[RepoRef, str] = "full",
              fp32: bool = False, catalog: Catalog | None = None, dependencies: bool = True,
              revision: str | None = None) -> Plan:
    """Plan every repo (listed concurrently), in the order given, then the dependencies they bring in
    (planned with the transformers profile, the one a codec needs)."""
    api = make_api(settings)
    catalog = catalog or default_catalog()
    wanted = list(dict.fromkeys(catalog.canonical(r) for r in refs))
    profiles = {catalog.canonical(k): v for k, v in profile.items()} if isinstance(profile, dict) else {}

    def one(ref: RepoRef, dependency_of: str | None = None) -> RepoPlan:
        chosen = profiles.get(ref, profile if isinstance(profile, str) else "full")
        if dependency_of is not None:
            chosen = "transformers"
        rp = plan_repo(api, settings, ref, include if dependency_of is None else (),
                       exclude if dependency_of is None else (), chosen, fp32, catalog, dependency_of,
                       find_references=dependencies, revision=revision if dependency_of is None else None)
        if on_repo:
            on_repo(rp)
        return rp

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(wanted)))) as pool:
        repos = list(pool.map(one, wanted))
        if dependencies:
            have = {(r.ref.repo_type, r.ref.repo_id.lower()) for r in repos}
            deps: dict[RepoRef, str] = {}
            for rp in repos:
                for dep in rp.depends:
                    dref = catalog.canonical(RepoRef("model", dep))
                    if ("model", dref.repo_id.lower()) not in have:
                        deps.setdefault(dref, rp.ref.repo_id)
            repos += list(pool.map(lambda item: one(*item), deps.items()))
    return Plan(settings.root, repos, free_space(settings.root), settings.min_free)
