"""Updating a repo folder to a new commit without ever calling a mixture complete: the record says an update is
under way (the old commit, and the files the Hub dropped since), and only once every file of the new commit is
here are the dropped files removed and the mark cleared."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..plan import RepoPlan
from ..remote import Listing
from ..results import RepoResult
from . import metadata
from .record import Update, read_planned_sizes, read_record, unpack


def update_of(local_dir: Path, listing: Listing) -> Update | None:
    """What a download of ``listing`` into ``local_dir`` is: None for a first download or the same commit (with
    no update left unfinished); else the update, with the files this tool downloaded that the Hub dropped."""
    before = read_planned_sizes(local_dir)
    if before is None:
        return None
    record = read_record(local_dir) if before.updating else None
    unfinished = record.update if record is not None else None
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


def finish_updates(root: Path, updates: list[tuple[RepoResult, RepoPlan]]) -> None:
    """The updates of a run whose repo is whole at its new commit (every file but the names it never takes)
    end: what the Hub dropped goes, and the exports follow."""
    done = [rp.local_dir for res, rp in updates
            if res.error is None and not res.cancelled and len(res.failed) == len(rp.unsafe)]
    for local_dir in done:
        finish_update(local_dir)
    if done:
        follow_in_exports(root, done)


def follow_in_exports(root: Path, local_dirs: list[Path]) -> None:
    """After updates that finished (or repos removed): the checksum files' lines of those repos follow their
    records (a file gone loses its line, so a removed repo loses them all; a changed file's digest is the new
    one: an LFS file's sha256 from the record, another file hashed; an added file gets a line when it is as big
    as the smallest file of its repo already listed, the threshold the file was written with), and the
    inventories, when they exist, are made again."""
    from . import inventory
    from .checksums import CHECKSUM_FILES

    expected: dict[str, tuple[int, str]] = {}  # root-relative path -> (size, the hash the record expects)
    for local_dir in local_dirs:
        planned = read_planned_sizes(local_dir)
        rel = local_dir.relative_to(root).as_posix() + "/"
        for prefix, packed in (planned.folders.items() if planned is not None else ()):
            names, sizes, tags = unpack(packed)
            expected.update((rel + prefix + n, (s, t)) for n, s, t in zip(names, sizes, tags, strict=True))
    ours = tuple(d.relative_to(root).as_posix() + "/" for d in local_dirs)
    for kind_file in CHECKSUM_FILES.values():
        if (root / kind_file).is_file():
            _follow(root, root / kind_file, ours, expected)
    if any((root / rel).is_file() for rel in inventory.INVENTORY_FILES.values()):
        inventory.write(root)


def _follow(root: Path, target: Path, ours: tuple[str, ...], expected: dict[str, tuple[int, str]]) -> None:
    from .checksums import format_line, parse_line
    from .hashing import hash_file
    from .jsonio import write_text_atomic

    odd: list[str] = []  # lines that are no checksum line: kept, first
    lines: dict[str, str] = {}  # path -> its line, the other repos' as they are
    listed: dict[str, str] = {}  # our repos' lines: path -> digest
    for line in target.read_text(encoding="utf-8").splitlines(keepends=True):
        entry = parse_line(line)
        if entry is None:
            odd.append(line)
        elif entry[1].startswith(ours):
            listed[entry[1]] = entry[0]
        else:
            lines[entry[1]] = line
    if not listed:
        return
    smallest = min((expected[p][0] for p in listed if p in expected), default=None)
    for path, (size, _etag) in expected.items():
        if path not in listed and smallest is not None and size >= smallest and (root / path).is_file():
            listed[path] = ""  # added by the update
    for path, digest in listed.items():
        if path not in expected:  # not in the record: kept while the file is there (the user's own)
            if os.path.lexists(root / path):
                lines[path] = format_line(digest, path)
            continue
        etag = expected[path][1]
        lines[path] = format_line(etag if len(etag) == 64 else hash_file(root / path), path)
    write_text_atomic(target, iter(odd + [lines[p] for p in sorted(lines)]))  # sorted by path, as written
