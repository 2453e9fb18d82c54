"""What a local model is ready for: per loader (transformers, audiocraft), the files it opens in the repo and
the other repos it reaches, and which of them the workspace holds whole. Read from the records and a stat of
the few files a loader opens, so the app can show it for every row."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import Catalog, Dependency
from ..local.record import Record, read_record
from ..profiles import AUDIOCRAFT_FILES, apply_profile
from ..repos import RepoRef
from ..sources import Source
from .pickles import repo_ids_in_pickle

LOADERS = ("transformers", "audiocraft")
REFERENCE_FILE, REFERENCE_MAX = "compression_state_dict.bin", 4096


@dataclass(frozen=True)
class Needs:
    """What one loader opens: files of the repo, and other repos (with the profile they are taken with)."""

    loader: str
    files: tuple[str, ...]
    deps: tuple[Dependency, ...] = ()


@dataclass
class Readiness:
    """Per loader the repo can be loaded with: what is missing (nothing: ready)."""

    ref: RepoRef
    missing: dict[str, list[str]] = field(default_factory=dict)  # loader -> missing files and repos
    needs: dict[str, Needs] = field(default_factory=dict)
    profile: str = "full"  # the profile it was downloaded with

    @property
    def expected(self) -> list[str]:
        """The loaders its download was for: the profile's own, or every one for ``full``."""
        return [k for k in self.needs if self.profile in ("full", k)]

    @property
    def ready(self) -> list[str]:
        return [loader for loader, gone in self.missing.items() if not gone]

    def summary(self) -> str:
        """``ready offline: transformers, audiocraft`` or what keeps a loader from starting."""
        parts = [f"ready offline: {', '.join(self.ready)}"] if self.ready else []
        parts += [f"{loader} needs {', '.join(gone[:3])}{' …' if len(gone) > 3 else ''}"
                  for loader, gone in self.missing.items() if gone]
        return "; ".join(parts) or "no loader reads this repo's files"


def loader_needs(record: Record, catalog: Catalog, local_dir: Path) -> dict[str, Needs]:
    """The loaders that can read this repo (by the files it has on the Hub) and what each opens."""
    files = record.listing.files
    out: dict[str, Needs] = {}
    chosen, fallback = apply_profile(files, "transformers")
    if fallback is None and any(f.path == "config.json" for f in chosen):
        out["transformers"] = Needs("transformers", tuple(f.path for f in chosen))
    ac = tuple(f.path for f in files if f.path in AUDIOCRAFT_FILES)
    if len(ac) == len(AUDIOCRAFT_FILES):
        entry = catalog.find(record.listing.ref)
        deps = list(entry.dependencies("audiocraft")) if entry is not None else []
        for codec in _referenced(local_dir):
            if all(d.repo_id.lower() != codec.lower() for d in deps):
                deps.append(Dependency(codec))
        out["audiocraft"] = Needs("audiocraft", ac, tuple(deps))
    return out


def _referenced(local_dir: Path) -> list[str]:
    """The codec a reference-sized compression file on disk names."""
    path = local_dir / REFERENCE_FILE
    try:
        if os.lstat(path).st_size > REFERENCE_MAX:
            return []
        return repo_ids_in_pickle(path.read_bytes())
    except OSError:
        return []


def whole(local_dir: Path, record: Record, paths: tuple[str, ...]) -> list[str]:
    """The ``paths`` not on disk at their recorded size (not downloaded, partial, or not in the record)."""
    sizes = {f.path: f.size for f in record.listing.files}
    missing = []
    for p in paths:
        try:
            ok = os.stat(local_dir / p).st_size == sizes.get(p, -1)
        except OSError:
            ok = False
        if not ok:
            missing.append(p)
    return missing


def readiness(root: Path, ref: RepoRef, catalog: Catalog, sources: dict[str, Source]) -> Readiness | None:
    """The repo's readiness per loader, or None when it has no record (never downloaded by this tool)."""
    local_dir = ref.local_dir(root)
    record = read_record(local_dir)
    if record is None or ref.repo_type != "model":
        return None
    out = Readiness(ref, needs=loader_needs(record, catalog, local_dir), profile=record.profile)
    for loader, needs in out.needs.items():
        gone = whole(local_dir, record, needs.files)
        gone += [d.repo_id for d in needs.deps if not dependency_ready(root, d, catalog, sources)]
        out.missing[loader] = gone
    return out


def dependency_ready(root: Path, dep: Dependency, catalog: Catalog, sources: dict[str, Source]) -> bool:
    """A repo another one reaches is whole: an off-Hub one's parts for its profile, a Hub one's transformers
    files (what every dependency is taken with)."""
    ref = catalog.canonical(RepoRef("model", dep.repo_id))
    local_dir = ref.local_dir(root)
    source = sources.get(ref.repo_id.lower())
    record = read_record(local_dir)
    if record is None:
        return False
    if source is not None and not any(f.path == "config.json" for f in record.listing.files):
        dests = {p.name: p.dest for p in source.parts}
        return not whole(local_dir, record, tuple(dests.get(n, n) for n in source.chosen(dep.profile)))
    needs = loader_needs(record, catalog, local_dir).get("transformers")
    return needs is not None and not whole(local_dir, record, needs.files)


def summaries(root: Path, refs: list[RepoRef], catalog: Catalog, sources: dict[str, Source]) -> dict[str, str]:
    """``Readiness.summary`` of each local model among ``refs``, by repo id (what the app shows per model)."""
    out: dict[str, str] = {}
    for ref in refs:
        if ref.repo_type == "model":
            state = readiness(root, ref, catalog, sources)
            if state is not None:
                out[ref.repo_id] = state.summary()
    return out
