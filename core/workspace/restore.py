"""Restoring a lock (``download --lock``): each locked repo listed at its locked commit (an off-Hub source asked
of its publisher), its files exactly the lock's, each one's size and hash compared with the lock's before
anything is fetched (the download then checks the bytes against that same hash). A revision or a file the
endpoint no longer serves as locked fails that repo, said per repo: nothing is ever fetched in its place."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from ..catalog import Catalog
from ..hub.offhub import plan_parts
from ..hub.planner import MAX_PARALLEL, Choice, OnProgress, Planner
from ..local.space import free_space
from ..plan import Plan, RepoPlan
from ..remote import Listing, RemoteFile
from ..settings import Settings
from ..states import RepoStatus
from .lockfile import LockedRepo

NOTHING_ELSE = "nothing else is fetched in its place"


def plan_lock(settings: Settings, locked: Sequence[LockedRepo], *, catalog: Catalog | None = None,
              cancel: threading.Event | None = None, on_progress: OnProgress | None = None) -> Plan:
    """The plan that makes the root hold the lock's set: one repo plan per locked repo, in the lock's order."""
    planner = Planner(settings, catalog, find_references=False, cancel=cancel, on_progress=on_progress)

    def one(r: LockedRepo) -> RepoPlan:
        if cancel is not None and cancel.is_set():
            return RepoPlan(r.ref, r.ref.local_dir(settings.root)).fail(RepoStatus.ERROR,
                                                                         "cancelled before it was planned")
        if r.source is not None:  # an off-Hub source: its publisher's parts, then held to the lock's
            return _pin_source(planner.plan_repo(r.ref, Choice(profile=r.profile)), r)
        rp = planner.plan_repo(r.ref, Choice(revision=r.revision), pick=lambda listed: _pick(listed, r))
        if rp.status is RepoStatus.NO_REVISION:
            rp.fail(RepoStatus.NO_REVISION, f"its locked revision {r.revision[:12]} is no longer served by "
                                            f"{settings.endpoint}: {NOTHING_ELSE}")
        rp.depends = []  # the lock holds the repos it depends on, each at its own revision
        return rp

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(1, len(locked)))) as pool:
        repos = list(pool.map(one, locked))
    return Plan(settings.root, repos, free_space(settings.root), settings.min_free)


def _pick(rp: RepoPlan, r: LockedRepo) -> list[RemoteFile]:
    """The lock's files of a listing at the locked commit, each served at the lock's size and hash; else the repo
    fails, naming the first file that differs."""
    assert rp.listing is not None
    rp.profile, rp.include, rp.exclude = r.profile, r.include, r.exclude
    if rp.listing.commit != r.revision:
        rp.fail(RepoStatus.NO_REVISION, f"asked for its locked revision {r.revision[:12]}, the endpoint answered "
                                        f"{rp.listing.commit[:12]}: {NOTHING_ELSE}")
        return []
    return _held_to_lock(rp, r, rp.listing.files, same=str.__eq__)


def _held_to_lock(rp: RepoPlan, r: LockedRepo, served: Sequence[RemoteFile], *,
                  same: Callable[[str, str], bool]) -> list[RemoteFile]:
    """``served`` narrowed to the lock's files, in the lock's order; the repo fails when a locked file is not
    served, or served at another size or hash (``same(etag, locked hash)`` says whether a hash is the lock's)."""
    wanted = {path for path, _, _ in r.files}
    by_path = {f.path: f for f in served if f.path in wanted}
    chosen = []
    for path, size, digest in r.files:
        f = by_path.get(path)
        if f is None:
            rp.fail(RepoStatus.ERROR, f"{path}: locked, but not served at revision {r.revision[:12]}: {NOTHING_ELSE}")
            return []
        if f.size != size or not same(f.etag, digest):
            rp.fail(RepoStatus.ERROR, f"{path}: served as {f.size} bytes, {f.etag[:16]}…; the lock says {size}, "
                                      f"{digest[:16]}…: {NOTHING_ELSE}")
            return []
        chosen.append(f)
    return chosen


def _pin_source(rp: RepoPlan, r: LockedRepo) -> RepoPlan:
    """An off-Hub source's planned parts held to the lock's: each part's published checksum must be the lock's
    (a part whose publisher gives none is held to the sha256 the lock pinned), then planned again against that."""
    if not rp.ok:
        return rp
    assert rp.listing is not None
    rp.profile, rp.include, rp.exclude = r.profile, r.include, r.exclude

    def same(etag: str, digest: str) -> bool:
        return etag == digest or (etag.startswith("tofu:") and digest.startswith("sha256:"))

    chosen = _held_to_lock(rp, r, rp.listing.files, same=same)
    if not rp.ok:
        return rp
    pinned = [RemoteFile(f.path, size, digest) for f, (_, size, digest) in zip(chosen, r.files, strict=True)]
    rp.listing = Listing(rp.ref, r.revision, pinned)
    plan_parts(rp, pinned)
    rp.notes = ["each part is checked against the lock's checksum"]
    rp.status = RepoStatus.COMPLETE if not rp.pending_count else RepoStatus.AVAILABLE
    return rp
