"""``outdated``: each local repo's recorded revision against the endpoint's ``main``. A repo that is current costs
one small API call (its commit only); a repo that is behind costs its new listing too, to count what changed, was
added and was removed, and the bytes an update would fetch. Calls run concurrently, politely bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from ..local.inventory import guess_repo_id, repo_folders
from ..local.origin import read_origin
from ..local.record import PlannedSizes, read_planned_sizes, read_record, unpack
from ..patterns import select
from ..profiles import apply_profile
from ..repos import RepoRef
from ..safety import unsafe_entries
from ..settings import Settings
from .backoff import Cancelled
from .errors import describe
from .listing import HubApi, fetch_listing

MAX_PARALLEL = 8  # API calls in flight at once: fast enough for hundreds of repos, polite to the Hub
Standing = Literal["current", "behind", "gone", "unknown"]


@dataclass(frozen=True)
class RepoStanding:
    """Where one local repo stands against the endpoint (``outdated --json``'s row, plus ``reason``)."""

    repo_id: str
    repo_type: str
    status: Standing
    local_revision: str | None
    remote_revision: str | None = None
    changed: int = 0
    added: int = 0
    removed: int = 0
    bytes_to_fetch: int = 0
    reason: str = ""
    asked: bool = True  # the endpoint was to be asked (a Hub repo with a record; not an off-Hub source)

    def data(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("asked")
        return d


Local = tuple[RepoRef, Path, PlannedSizes | None]  # a repo folder, its ref as recorded, and its record's files


def local_repos(root: Path, refs: list[RepoRef] | None = None) -> list[Local]:
    """The repo folders to compare (those of ``refs`` when given), each with its ref and record read once."""
    wanted = {r.local_dir(root) for r in refs} if refs is not None else None
    out = []
    for repo_type, folder in repo_folders(root):
        if wanted is not None and folder not in wanted:
            continue
        planned = read_planned_sizes(folder)
        out.append((planned.ref if planned is not None else RepoRef(repo_type, guess_repo_id(repo_type, folder)),
                    folder, planned))
    return out


def outdated(settings: Settings, refs: list[RepoRef] | None = None, *, cancel: threading.Event | None = None,
             on_repo: Callable[[RepoStanding], object] | None = None) -> list[RepoStanding]:
    """Compare every local repo (or those of ``refs``) with the endpoint, ``MAX_PARALLEL`` at a time, in the
    root's order; ``on_repo`` hears each as it is known (from worker threads)."""
    api = HubApi(settings, cancel=cancel)
    repos = local_repos(settings.root, refs)

    def one(item: Local) -> RepoStanding:
        standing = _standing(api, settings, *item)
        if on_repo is not None:
            on_repo(standing)
        return standing

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(repos)))) as pool:
        return list(pool.map(one, repos))


def _standing(api: HubApi, settings: Settings, ref: RepoRef, folder: Path,
              planned: PlannedSizes | None) -> RepoStanding:
    local = planned.commit if planned is not None else None
    row = RepoStanding(ref.repo_id, ref.repo_type, "unknown", local)
    if planned is None:
        return _with(row, asked=False,
                     reason="no record of a download here (not made by this tool, or its record is damaged)")
    if read_origin(folder) is not None:
        return _with(row, asked=False, reason="an off-Hub source: its publisher has no revisions to compare")
    try:
        info = api.repo_info(ref, None, expand=["sha"])
    except Cancelled:
        return _with(row, reason="cancelled")
    except GatedRepoError as e:  # a GatedRepoError is a RepositoryNotFoundError: asked first
        return _with(row, status="gone", reason=f"the endpoint refuses it now: {_said(e, settings)}")
    except RepositoryNotFoundError:
        return _with(row, status="gone", reason=f"not on this endpoint ({settings.endpoint}) any more")
    except Exception as e:
        return _with(row, reason=_said(e, settings))
    remote = getattr(info, "sha", None)
    if not remote:
        return _with(row, reason="the endpoint did not say its commit")
    if remote == local:
        return _with(row, status="current", remote_revision=remote)
    return _behind(api, settings, ref, folder, planned, _with(row, status="behind", remote_revision=remote))


def _behind(api: HubApi, settings: Settings, ref: RepoRef, folder: Path, planned: PlannedSizes,
            row: RepoStanding) -> RepoStanding:
    """Count the difference between the recorded listing and the new one, through the download's own choice
    (its profile and patterns): a file the profile would not take is neither added nor fetched."""
    record = read_record(folder)
    try:
        listing = fetch_listing(api, ref, row.remote_revision)
    except Exception as e:
        return _with(row, reason=f"behind; its new file list could not be read: {_said(e, settings)}")
    old: dict[str, str] = {}
    for prefix, packed in planned.folders.items():
        names, _, etags = unpack(packed)
        old.update((prefix + n, e) for n, e in zip(names, etags, strict=True))
    profile = record.profile if record is not None else "full"
    chosen, _ = apply_profile(listing.files, profile, ref.repo_type)
    if record is not None:
        chosen = select(chosen, record.include, record.exclude)
    unsafe = unsafe_entries([f.path for f in chosen])
    now = {f.path: f for f in chosen if f.path not in unsafe}
    everything = {f.path for f in listing.files}
    changed = [f for p, f in now.items() if p in old and old[p] != f.etag]
    added = [f for p, f in now.items() if p not in old]
    removed = [p for p in old if p not in everything]
    return _with(row, changed=len(changed), added=len(added), removed=len(removed),
                 bytes_to_fetch=sum(f.size for f in changed + added))


def _with(row: RepoStanding, **changes: object) -> RepoStanding:
    return replace(row, **changes)  # type: ignore[arg-type]


def _said(e: BaseException, settings: Settings) -> str:
    return describe(e, token=settings.token, endpoint=settings.endpoint)
