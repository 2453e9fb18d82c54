"""Unpacked files landing in a root, once every file and part of the pack was checked: each staged file renamed
into its repo's folder, its metadata and the repo's record written from the lock (so ``verify --lock`` holds),
an off-Hub source's origin kept and its archives extracted, and the loaders' views refreshed. Nothing of a pack
is complete in the root before this."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from ..archive.extract import is_archive
from ..hub.arrival import extract_part
from ..hub.offhub import manifest_path
from ..local import metadata
from ..local.origin import write_origin
from ..local.record import Record, write_record
from ..local.safeio import make_dirs
from ..plan import RepoPlan
from ..remote import Listing, Paths, RemoteFile
from ..runtime.views import after_run
from .lockfile import LockedRepo


def is_present(root: Path, r: LockedRepo, path: str, size: int, digest: str) -> bool:
    """Whether the root holds this file already, recorded as the lock's (nothing to unpack for it)."""
    paths = metadata.download_paths(r.ref.local_dir(root), path)
    return metadata.is_fresh(paths, metadata.read_metadata(paths), digest, size)


def land(root: Path, locked: Sequence[LockedRepo], staging: Path, staged: set[str], min_free: int) -> list[str]:
    """Move the staged files (by their names in the root) into place and record every locked repo as the lock
    says; the problems of extracting an off-Hub archive, one line each, and the views' notes."""
    said: list[str] = []
    made: set[Path] = set()

    def folder(path: Path) -> None:
        if path not in made:
            make_dirs(path, root)
            made.add(path)

    for r in locked:
        local_dir = r.ref.local_dir(root)
        make_dirs(metadata.hf_dir(local_dir), root)
        prefix = r.ref.relpath() + "/"
        for path, _, digest in r.files:
            paths = metadata.download_paths(local_dir, path)
            if prefix + path in staged:
                folder(paths.file_path.parent)
                os.replace(staging / (prefix + path), paths.file_path)
            folder(paths.metadata_path.parent)
            metadata.write_metadata(paths, r.revision, digest)
        files = [RemoteFile(p, s, h) for p, s, h in r.files]
        write_record(local_dir, Record(Listing(r.ref, r.revision, files), r.include, r.exclude,
                                       Paths(files), r.profile))
        if r.source is not None:
            write_origin(local_dir, {"id": r.ref.repo_id, "profile": r.profile, **r.source})
            rp = RepoPlan(r.ref, local_dir)
            for path, _, _ in r.files:
                if not is_archive(path) or (prefix + path not in staged and manifest_path(local_dir, path).is_file()):
                    continue  # no archive, or one the root held and had extracted already
                if why := extract_part(rp, path, root, min_free, lambda done, total: None, threading.Event()):
                    said.append(f"{r.ref.repo_id}: {path}: not extracted: {why}")
    return said + after_run(root, [r.ref.local_dir(root) for r in locked])
