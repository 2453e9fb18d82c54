"""Planning against the Hub: list each repo once, pinned to a commit; choose its files; compare them with the
disk; find the repos it depends on. Every failure becomes the repo's status and message, never an exception."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

from ..catalog import Catalog, CatalogEntry, Dependency, default_catalog
from ..local.compare import plan_files
from ..local.listings import ListingCache
from ..local.space import free_space
from ..patterns import select
from ..plan import Plan, RepoPlan
from ..profiles import PROFILES, apply_profile
from ..remote import Paths, RemoteFile
from ..repos import RepoRef
from ..safety import unsafe_entries
from ..settings import Settings
from ..sources import Source, SourceError, load_sources
from ..states import RepoStatus
from .backoff import Cancelled
from .errors import describe
from .listing import HubApi, fetch_listing
from .offhub import plan_source, source_ref
from .probes import check_access, referenced_codecs
from .publishers import Publishers

MAX_PARALLEL = 8  # repos listed at once
# The listing cache: "off" (the CLI: a dry run changes nothing), "read" (use what it holds, keep what is fetched:
# the app's sizing), "write" (ask the Hub, keep the answer: the app's refresh and download plans).
CacheUse = Literal["off", "read", "write"]
OnProgress = Callable[[RepoRef, str], object]  # (repo, what its planning is doing now)
# Chooses a listed repo's files instead of the profile and the globs (a lock's exact set); it may fail the repo.
Pick = Callable[[RepoPlan], Sequence[RemoteFile]]


@dataclass(frozen=True)
class Choice:
    """How a repo's files are chosen: the profile (models only), fp32 copies, globs, and the revision."""

    profile: str = "full"
    fp32: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    revision: str | None = None


DEPENDENCY_CHOICE = Choice(profile="transformers")  # a codec needs its configs and one weight format


class Planner:
    """Plans repos one at a time; safe to call from several threads at once."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, *, find_references: bool = True,
                 cancel: threading.Event | None = None, cache: CacheUse = "off",
                 on_progress: OnProgress | None = None) -> None:
        self.settings = settings
        self.on_progress = on_progress or (lambda ref, text: None)
        self.catalog = catalog or default_catalog()
        self.find_references = find_references
        self.api = HubApi(settings, cancel=cancel)
        self.cache = ListingCache(settings.root, settings.endpoint, with_token=settings.token is not None) \
            if cache != "off" else None
        self.read_cache = cache == "read"
        self.publishers = Publishers(settings, cancel)
        try:
            self.sources, self.sources_error = load_sources(Path(settings.catalog_file)
                                                            if settings.catalog_file else None), None
        except SourceError as e:
            self.sources, self.sources_error = load_sources(), f"MUSICGEN_CATALOG ignored: {e}"

    def plan_repo(self, ref: RepoRef, choice: Choice = Choice(), dependency_of: str | None = None,
                  pick: Pick | None = None) -> RepoPlan:
        """List one repo and compare it with its local folder (an off-Hub source: its publisher's parts).
        ``pick`` chooses a Hub repo's files instead of the profile and the globs."""
        entry = self.catalog.find(ref)
        canonical = self.catalog.canonical(ref)
        rp = RepoPlan(canonical, canonical.local_dir(self.settings.root), include=choice.include,
                      exclude=choice.exclude,
                      profile=(choice.profile if choice.profile in PROFILES else "full") if ref.repo_type == "model"
                      else "full",  # a source's profile name (``--profile midi``) means full for a Hub repo
                      dependency_of=dependency_of)
        if not self._list(rp, entry, choice.revision):
            source = self.sources.get(ref.repo_id.lower())
            if rp.status is RepoStatus.NOT_ON_ENDPOINT and source is not None and source.repo_type == ref.repo_type:
                return self._plan_source(source, choice, dependency_of, rp.message or "")  # from its publisher
            return rp
        if rp.ref.repo_id != ref.repo_id:
            rp.requested_id = ref.repo_id
            rp.notes.append(f"{ref.repo_id} is spelled {rp.ref.repo_id} on the Hub")
        self._choose_files(rp, choice, pick)
        if not rp.ok:
            return rp
        assert rp.listing is not None
        if rp.listing.gated and rp.pending_count:
            check_access(self.settings, rp)
        self._add_dependencies(rp, entry)
        if rp.ok and not rp.pending_count:
            rp.status = RepoStatus.COMPLETE
        return rp

    def _plan_source(self, source: Source, choice: Choice, dependency_of: str | None, hub_said: str) -> RepoPlan:
        """A catalog id the endpoint does not carry, planned from its publisher's host (a mirror that carries it
        was used instead); the publisher failing is the repo's status, with what the endpoint said."""
        sref = source_ref(source)
        rp = RepoPlan(sref, sref.local_dir(self.settings.root), include=choice.include, exclude=choice.exclude,
                      dependency_of=dependency_of)
        if self.sources_error:
            rp.notes.append(self.sources_error)
        try:
            plan_source(rp, source, choice.profile, self.publishers, lambda text: self.on_progress(sref, text))
        except Cancelled:
            rp.fail(RepoStatus.ERROR, "cancelled while waiting to ask the publisher again")
        except Exception as e:  # the publisher's host refused, failed or answered nonsense: the repo's status
            why = describe(e, token=None, endpoint=self.settings.sources_endpoint or None)
            rp.fail(RepoStatus.NOT_ON_ENDPOINT, f"{hub_said}; and its publisher, {source.publisher}, could not be "
                                                f"asked: {why}")
        return rp

    def _list(self, rp: RepoPlan, entry: CatalogEntry | None, revision: str | None) -> bool:
        """Fetch the listing; on failure set the plan's status and say False. A gated repo that refuses its
        listing is gated, never "not on this endpoint" (``GatedRepoError`` is a ``RepositoryNotFoundError``).
        The main branch's answer is kept in the listing cache, and read from there first in "read" mode."""
        cache = self.cache if revision is None else None
        hit = cache.get(rp.ref) if cache is not None and self.read_cache else None
        if isinstance(hit, tuple):
            rp.fail(*hit)
            return False
        if hit is None:
            if not self._fetch(rp, entry, revision):
                if cache is not None:
                    cache.put(rp.ref, (rp.status, rp.message or ""))
                return False
            if cache is not None:
                assert rp.listing is not None
                cache.put(rp.ref, rp.listing)
        else:
            rp.listing = hit
        assert rp.listing is not None
        if rp.listing.ref != rp.ref:  # the Hub's own spelling wins: one folder per repo, however it was typed
            rp.ref = rp.listing.ref
            rp.local_dir = rp.ref.local_dir(self.settings.root)
        return True

    def _fetch(self, rp: RepoPlan, entry: CatalogEntry | None, revision: str | None) -> bool:
        """Ask the Hub for the listing (with retries); on failure set the plan's status and say False."""
        retries: list[str] = []
        ref, say = rp.ref, self.on_progress

        def on_retry(msg: str, wait: float) -> None:
            retries.append(f"{msg}; waited {wait:.0f} s")
            say(ref, f"{msg}; asking again in {wait:.0f} s")

        say(ref, "asking the Hub for the file list")
        try:
            rp.listing = fetch_listing(self.api, rp.ref, revision, notes=rp.notes, on_retry=on_retry,
                                       on_listed=lambda n: say(ref, f"listing: {n:,} files so far"))
        except Cancelled:
            rp.fail(RepoStatus.ERROR, "cancelled while waiting to ask the Hub again")
            return False
        except GatedRepoError as e:
            rp.fail(RepoStatus.GATED, describe(e, token=self.settings.token, endpoint=self.settings.endpoint))
            return False
        except RevisionNotFoundError:
            rp.fail(RepoStatus.NO_REVISION, f"revision {revision or 'main'!r} not found on this endpoint")
            return False
        except RepositoryNotFoundError:
            hint = (entry.elsewhere() if entry is not None else None) or \
                "check the id and whether it is a model or a dataset"
            rp.fail(RepoStatus.NOT_ON_ENDPOINT, f"not on this endpoint ({self.settings.endpoint}); {hint}")
            return False
        except Exception as e:
            tries = f" (after {len(retries) + 1} tries)" if retries else ""
            rp.fail(RepoStatus.ERROR, describe(e, token=self.settings.token, endpoint=self.settings.endpoint) + tries)
            return False
        if retries:
            rp.notes.append(f"listed after {len(retries)} retries (last: {retries[-1]})")
        return True

    def _choose_files(self, rp: RepoPlan, choice: Choice, pick: Pick | None) -> None:
        """The profile's files, then the globs (or ``pick``'s); unsafe names are set aside; the rest compared with
        the disk."""
        assert rp.listing is not None
        if pick is not None:
            chosen = pick(rp)
            if not rp.ok:
                return
        else:
            profiled, note = apply_profile(rp.listing.files, rp.profile, rp.ref.repo_type, choice.fp32)
            if note:
                rp.notes.append(note)
            chosen = select(profiled, choice.include, choice.exclude)
            if not chosen and profiled:
                rp.fail(RepoStatus.ERROR, nothing_matched(rp.listing.files, rp.profile, choice))
                return
        rp.unsafe = unsafe = unsafe_entries(Paths(chosen))
        ref, total = rp.ref, len(chosen)
        self.on_progress(ref, f"comparing {total:,} files with the disk")
        rp.files = plan_files(rp.local_dir, (f for f in chosen if f.path not in unsafe) if unsafe else chosen,
                              lambda n: self.on_progress(ref, f"comparing with the disk: {n:,} of {total:,} files"))

    def _add_dependencies(self, rp: RepoPlan, entry: CatalogEntry | None) -> None:
        """The catalog's dependencies, and a codec that a reference file names."""
        rp.depends = [d.repo_id + (f":{d.profile}" if d.profile else "") for d in entry.dependencies(rp.profile)] \
            if entry is not None else []
        if not (rp.ok and self.find_references):
            return
        for dep in referenced_codecs(self.settings, rp):
            if dep.lower() not in (d.lower() for d in rp.depends):
                rp.depends.append(dep)
                rp.notes.append(f"compression_state_dict.bin points at {dep}")


def nothing_matched(files: Sequence[RemoteFile], profile: str, choice: Choice, shown: int = 3) -> str:
    """Why a repo gets no file: the patterns (and profile) that chose none, and a few of its names to aim at."""
    said = [f"--include {p!r}" for p in choice.include] + [f"--exclude {p!r}" for p in choice.exclude]
    if profile != "full":
        said.append(f"profile {profile}")
    names = ", ".join(f.path for f in files[:shown]) + (", …" if len(files) > shown else "")
    return f"nothing matched: {' '.join(said)} chose none of its {len(files):,} files (it has {names})"


def make_plan(settings: Settings, refs: Sequence[RepoRef], choice: Choice = Choice(), *,
              profiles: Mapping[RepoRef, str] | None = None, catalog: Catalog | None = None,
              dependencies: bool = True, on_repo: Callable[[RepoPlan], object] | None = None,
              cancel: threading.Event | None = None, cache: CacheUse = "off",
              on_progress: OnProgress | None = None) -> Plan:
    """Plan every repo (listed concurrently), in the order given, then the dependencies they bring in.

    ``profiles`` overrides ``choice.profile`` per repo; ``on_repo`` hears each plan as it is made (from worker
    threads). Once ``cancel`` is set, repos not yet listed are left out as cancelled. ``cache`` says how the
    listing cache is used (``CacheUse``). ``on_progress`` hears what each repo's planning is doing, as a line
    of text (listing page by page, retries and their waits, the comparison with the disk)."""
    catalog = catalog or default_catalog()
    planner = Planner(settings, catalog, find_references=dependencies, cancel=cancel, cache=cache,
                      on_progress=on_progress)
    per_repo = {catalog.canonical(k): v for k, v in (profiles or {}).items()}
    wanted = list(dict.fromkeys(catalog.canonical(r) for r in refs))

    def one(ref: RepoRef, need: tuple[str, str | None] | None = None) -> RepoPlan:
        if cancel is not None and cancel.is_set():
            rp = RepoPlan(ref, ref.local_dir(settings.root)).fail(RepoStatus.ERROR, "cancelled before it was planned")
        elif need is not None:  # (the repo that needs it, the profile it names)
            dep_choice = replace(DEPENDENCY_CHOICE, fp32=choice.fp32, profile=need[1] or DEPENDENCY_CHOICE.profile)
            rp = planner.plan_repo(ref, dep_choice, need[0])
        else:
            rp = planner.plan_repo(ref, replace(choice, profile=per_repo.get(ref, choice.profile)))
        if on_repo:
            on_repo(rp)
        return rp

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(1, len(wanted)))) as pool:
        repos = list(pool.map(one, wanted))
        if dependencies:
            repos += list(pool.map(lambda item: one(*item), _dependencies(catalog, repos).items()))
    return Plan(settings.root, repos, free_space(settings.root), settings.min_free)


def _dependencies(catalog: Catalog, repos: list[RepoPlan]) -> dict[RepoRef, tuple[str, str | None]]:
    """Each dependency not planned already, with the first repo that needs it and the profile it names."""
    have = {(r.ref.repo_type, r.ref.repo_id.lower()) for r in repos}
    deps: dict[RepoRef, tuple[str, str | None]] = {}
    for rp in repos:
        for text in rp.depends:
            dep = Dependency.parse(text)
            dref = catalog.canonical(RepoRef("model", dep.repo_id))
            if ("model", dref.repo_id.lower()) not in have:
                deps.setdefault(dref, (rp.ref.repo_id, dep.profile))
    return deps
