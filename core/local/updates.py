"""Updating a repo folder to a new commit without ever calling a mixture complete: the record says an update is
under way (the old commit, and the files the Hub dropped since), and only once every file of the new commit is
here are the dropped files removed and the mark cleared."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..remote import Listing
from . import metadata
from .record import Update, read_planned_sizes, read_record, unpack


def update_of(local_dir: Path, listing: Listing) -> Update | None:
    """What a download of ``listing`` into ``local_dir`` is: None for a first download or the same commit (with
    no update left unfinished); else the update, with the files this tool downloaded that the Hub dropped."""
    before = read_planned_sizes(local_dir)
    if before is None:
        return None
    unfinished = read_record(local_dir).update if before.updating else None  # type: ignore[union-attr]
    if before.commit == listing.commit and unfinished is None:
        return None
    listed = {f.path for f in listing.files}
    old: list[str] = []
    for prefix, packed in before.folders.items():
        names, _, _ = unpack(packed)
        old.extend(prefix + n for n in names if prefix + n not in listed)
    carried = [p for p in (unfinished.dropping if unfinished else ()) if p not in listed]
    return Update(unfinished.from_commit if unfinished else before.commit, tuple(dict.fromkeys(carried + old)))


def drop_files(local_dir: Path, paths: tuple[str, ...]) -> int:
    """Remove the files the Hub dropped and their ``.metadata``: regular files inside the folder only (a name
    that climbs out, or a symlink planted in a file's place, is left alone). Returns how many went."""
    top = os.path.realpath(local_dir)
    gone = 0
    for rel in paths:
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            continue
        paths_of = metadata.download_paths(local_dir, rel)
        target = paths_of.file_path
        if not os.path.realpath(target.parent).startswith(top + os.sep) and os.path.realpath(target.parent) != top:
            continue
        try:
            if stat.S_ISREG(os.lstat(target).st_mode):
                os.unlink(target)
                gone += 1
        except FileNotFoundError:
            pass
        metadata.forget(paths_of)
    return gone


def finish_update(local_dir: Path) -> int:
    """Every file of the new commit is here: drop what the Hub dropped, then clear the mark (the record
    rewritten as it is, without it). Returns how many files went."""
    from dataclasses import replace

    from .record import write_record

    record = read_record(local_dir)
    if record is None or record.update is None:
        return 0
    gone = drop_files(local_dir, record.update.dropping)
    write_record(local_dir, replace(record, update=None))
    return gone
