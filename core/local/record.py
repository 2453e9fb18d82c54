"""Our record of a repo folder: the listing a download planned (files, sizes, hashes, commit), which ``verify``
and the inventory's ``complete`` check against, and a cache of its planned sizes."""

from __future__ import annotations

import contextlib
import json
import marshal
import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..patterns import select
from ..remote import SEP, Listing, Paths, RemoteFile, RemoteFiles
from ..repos import RepoRef
from ..safety import unsafe_entries
from .damaged import DAMAGED, unreadable
from .jsonio import write_text_atomic
from .metadata import hf_dir
from .safeio import open_fd, replace_bytes

RECORD_NAME = "musicgen-tui.json"
RECORD_FORMAT = 2


@dataclass(frozen=True)
class Update:
    """An update under way: the commit the folder held before, and the files the Hub dropped since (this tool
    downloaded them; they are removed once every file of the new commit is here). Until then the folder is a
    mixture of two snapshots, and no inventory calls it complete."""

    from_commit: str
    dropping: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    """The listing a download planned, with the patterns that chose its files."""

    listing: Listing
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    selected: Iterable[str] | None = None  # the chosen paths, in the listing's order (re-readable)
    profile: str = "full"
    update: Update | None = None  # an update to a new commit not yet finished

    def planned(self) -> list[RemoteFile]:
        """The files the download chose (its profile and patterns), without the unsafe names it skipped."""
        if self.selected is not None:
            keep = set(self.selected)
            return [f for f in self.listing.files if f.path in keep]
        chosen = select(self.listing.files, self.include, self.exclude)
        unsafe = unsafe_entries([f.path for f in chosen])
        return [f for f in chosen if f.path not in unsafe]


CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by huggingface_hub.\n")


def write_record(local_dir: Path, record: Record) -> None:
    """Save the planned listing; also mark ``.cache/huggingface`` as huggingface_hub does (git-ignored, a
    CACHEDIR.TAG for backup tools).

    Format 2 groups the files by folder (a folder's prefix is written once, not in every path) with one hash a
    file (the one ``verify`` checks), and marks the chosen files with a ``1`` in a string: 8.8 MB for the
    100,000-file stand-in of bench/scale.py, where format 1 (every path twice, both hashes) took 16.7 MB; the
    sha256 of each file is most of what is left. It is written run by run from the packed listing, and the
    chosen files are marked by walking ``selected`` alongside (the plan keeps the listing's order), so no
    per-file object is held for the whole listing; a ``selected`` out of that order is read into a set."""
    folder = hf_dir(local_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in ((".gitignore", "*"), ("CACHEDIR.TAG", CACHEDIR_TAG)):
        if not os.path.lexists(folder / name):
            try:  # created, never opened: a name planted meanwhile (a symlink too) is left alone
                fd = open_fd(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
    lst = record.listing
    files = lst.files if isinstance(lst.files, RemoteFiles) else RemoteFiles(lst.files)
    selected = record.selected if record.selected is not None else Paths(record.planned())
    if iter(selected) is selected:  # a one-shot iterator: the fallback below reads it a second time
        selected = list(selected)
    head = json.dumps({"format": RECORD_FORMAT, "repo_id": lst.ref.repo_id, "repo_type": lst.ref.repo_type,
                       "commit": lst.commit, "include": list(record.include), "exclude": list(record.exclude),
                       "profile": record.profile,
                       **({"updating": {"from": record.update.from_commit, "dropping": list(record.update.dropping)}}
                          if record.update is not None else {})}, ensure_ascii=False)
    target = hf_dir(local_dir) / RECORD_NAME
    parts: dict[str, list[Folder]] = {}
    try:
        write_text_atomic(target, _pieces(head, files, selected, None, parts))
    except _OutOfOrder:
        parts.clear()
        write_text_atomic(target, _pieces(head, files, selected, set(selected), parts))
    try:  # the planned files, ready for the next inventory and verify: they never parse the JSON
        st = target.stat()
    except OSError:
        return
    planned = {p: f[0] if len(f) == 1 else (SEP.join(x[0] for x in f), b"".join(x[1] for x in f),
                                            SEP.join(x[2] for x in f)) for p, f in parts.items()}
    _write_planned_cache(folder / PLANNED_CACHE, (st.st_size, st.st_mtime_ns, st.st_ino),
                         PlannedSizes(lst.ref, lst.commit, planned, record.update is not None))


class _OutOfOrder(Exception):
    """``selected`` does not follow the listing's order: mark the chosen files from a set instead."""


def _pieces(head: str, files: RemoteFiles, selected: Iterable[str], keep: set[str] | None,
            parts: dict[str, list[Folder]]) -> Iterator[str]:
    """The record's JSON, a run at a time (``json.dumps`` of a whole record peaked at 30 MB); each run's chosen
    files are packed into ``parts`` on the way."""
    chosen_paths = iter(selected)
    nxt = next(chosen_paths, None) if keep is None else None
    yield head[:-1] + ', "folders": ['
    for k, (prefix, names, sizes, etags) in enumerate(files.runs()):
        marks = []
        for name in names:
            path = prefix + name
            if keep is not None:
                marks.append("1" if path in keep else "0")
            elif path == nxt:
                marks.append("1")
                nxt = next(chosen_paths, None)
            else:
                marks.append("0")
        chosen = "".join(marks)
        yield ("," if k else "") + json.dumps([prefix, names, sizes.tolist(), etags, chosen], ensure_ascii=False)
        if "0" not in chosen:
            parts.setdefault(prefix, []).append(pack(names, sizes, etags))
        elif "1" in chosen:
            ones = [i for i, c in enumerate(chosen) if c == "1"]
            parts.setdefault(prefix, []).append(
                pack([names[i] for i in ones], [sizes[i] for i in ones], [etags[i] for i in ones]))
    if nxt is not None:
        raise _OutOfOrder
    yield "]}\n"


def _load_record(local_dir: Path) -> tuple[dict[str, Any], tuple[int, int, int]] | None:
    """The record's JSON and the identity of the file it came from (size, mtime_ns, inode: a rewrite is an
    atomic rename, so a new record is always a new inode)."""
    try:
        with open(hf_dir(local_dir) / RECORD_NAME, "rb") as f:
            st = os.fstat(f.fileno())
            data = json.loads(f.read())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
    except DAMAGED as e:
        unreadable(hf_dir(local_dir) / RECORD_NAME, e)
        return None
    return data, (st.st_size, st.st_mtime_ns, st.st_ino)


def _rows(data: dict[str, Any]) -> Iterator[tuple[str, int, str, bool | None]]:
    """``(path, size, etag, chosen)`` of every listed file, from either format (format 1 has no per-file
    choice when its ``selected`` is null: None then)."""
    if data.get("format") == RECORD_FORMAT:
        for prefix, names, sizes, etags, chosen in data["folders"]:
            for name, size, etag, c in zip(names, sizes, etags, chosen, strict=True):
                yield prefix + name, int(size), etag, c == "1"
        return
    selected = data.get("selected")
    keep = set(selected) if selected is not None else None
    for p, s, b, h in data["files"]:
        yield p, int(s), h or b, (p in keep) if keep is not None else None


def _record_from(data: dict[str, Any]) -> Record:
    files, selected = [], []
    for path, size, etag, chosen in _rows(data):
        files.append(RemoteFile(path, size, etag if len(etag) != 64 else "", etag if len(etag) == 64 else None))
        if chosen:
            selected.append(path)
    listing = Listing(RepoRef(data["repo_type"], data["repo_id"]), data["commit"], files)
    whole = data.get("format") == RECORD_FORMAT or data.get("selected") is not None
    return Record(listing, tuple(data.get("include", ())), tuple(data.get("exclude", ())),
                  tuple(selected) if whole else None, data.get("profile", "full"), _update(data))


def _update(data: dict[str, Any]) -> Update | None:
    u = data.get("updating")
    if not isinstance(u, dict):
        return None
    return Update(str(u.get("from", "")), tuple(str(p) for p in u.get("dropping", ()) if isinstance(p, str)))


def read_record(local_dir: Path) -> Record | None:
    loaded = _load_record(local_dir)
    try:
        return _record_from(loaded[0]) if loaded is not None else None
    except DAMAGED as e:
        unreadable(hf_dir(local_dir) / RECORD_NAME, e)
        return None


Folder = tuple[str, bytes, str]  # names joined by SEP, sizes (array "q" as bytes), expected hashes joined by SEP
Folders = dict[str, Folder]  # folder prefix ("" or "a/b/") -> its planned files
PLANNED_CACHE = "musicgen-tui-planned.marshal"
PLANNED_FORMAT = 4


def _is_folder(prefix: object, folder: object) -> bool:
    return (isinstance(prefix, str) and isinstance(folder, tuple) and len(folder) == 3
            and isinstance(folder[0], str) and isinstance(folder[1], bytes) and len(folder[1]) % 8 == 0
            and isinstance(folder[2], str))


def pack(names: list[str], sizes: Iterable[int], etags: list[str]) -> Folder:
    return SEP.join(names), array("q", sizes).tobytes(), SEP.join(etags)


def unpack(folder: Folder) -> tuple[list[str], array, list[str]]:
    """A folder's names, sizes and hashes as lists: built for one folder at a time, never for all."""
    names, raw, etags = folder
    sizes = array("q")
    sizes.frombytes(raw)
    return names.split(SEP), sizes, etags.split(SEP)


@dataclass(frozen=True)
class PlannedSizes:
    """What an inventory and a verify need from a record: the repo, its commit, and the size and expected hash
    of every planned file, packed by folder (three objects a folder, none a file: 100,000 files hold 9 MB, not
    the 30 MB of per-file strings and ints)."""

    ref: RepoRef
    commit: str
    folders: Folders
    updating: bool = False  # an update to ``commit`` is not finished: the folder mixes two snapshots

    def rows(self) -> Iterator[tuple[str, list[str], array]]:
        """``(prefix, names, sizes)`` of each folder, unpacked one at a time."""
        for prefix, folder in self.folders.items():
            names, sizes, _ = unpack(folder)
            yield prefix, names, sizes

    def pairs(self) -> list[tuple[str, int]]:
        return [(prefix + n, s) for prefix, names, sizes in self.rows() for n, s in zip(names, sizes, strict=True)]

    def __len__(self) -> int:
        return sum(len(raw) // 8 for _, raw, _ in self.folders.values())


def read_planned_sizes(local_dir: Path) -> PlannedSizes | None:
    """The record's planned files. The record's JSON costs 0.1 s for 100,000 files, so the result is kept
    beside it in a cache (marshal, like ``__pycache__``) that is used only while the record file is the same
    file, byte count and mtime."""
    cache = hf_dir(local_dir) / PLANNED_CACHE
    record = hf_dir(local_dir) / RECORD_NAME
    try:
        st = record.stat()
        with open(cache, "rb") as f:
            fmt, key, *rest = marshal.loads(f.read())  # load(f) reads per object
        if fmt == PLANNED_FORMAT and key == (st.st_size, st.st_mtime_ns, st.st_ino):  # an older format: the JSON
            repo_type, repo_id, commit, folders, updating = rest
            if not isinstance(folders, dict):
                raise TypeError("folders of another shape")
            if not all(_is_folder(k, v) for k, v in folders.items()):
                raise TypeError("a folder of another shape")
            return PlannedSizes(RepoRef(repo_type, repo_id), commit, folders, updating is True)
    except DAMAGED as e:
        unreadable(cache, e)
    loaded = _load_record(local_dir)
    if loaded is None:
        return None
    data, key = loaded
    try:
        planned = _planned_from(data)
    except DAMAGED as e:
        unreadable(record, e)
        return None
    _write_planned_cache(cache, key, planned)
    return planned


def _planned_from(data: dict[str, Any]) -> PlannedSizes:
    if data.get("format") != RECORD_FORMAT and data.get("selected") is None:
        # a format-1 record without the download's own choice: apply its patterns
        rows: Iterator[tuple[str, int, str, bool | None]] = (
            (f.path, f.size, f.etag, True) for f in _record_from(data).planned())
    else:
        rows = _rows(data)
    lists: dict[str, tuple[list[str], list[int], list[str]]] = {}
    for path, size, etag, chosen in rows:
        if not chosen:
            continue
        folder, slash, name = path.rpartition("/")
        names, sizes, etags = lists.setdefault(folder + slash, ([], [], []))
        names.append(name)
        sizes.append(size)
        etags.append(etag)
    folders = {prefix: pack(*entry) for prefix, entry in lists.items()}
    return PlannedSizes(RepoRef(data["repo_type"], data["repo_id"]), str(data["commit"]), folders,
                        _update(data) is not None)


def _write_planned_cache(cache: Path, key: tuple[int, int, int], planned: PlannedSizes) -> None:
    """Best effort: a read-only folder only means the next inventory reads the JSON again."""
    with contextlib.suppress(OSError, ValueError):
        replace_bytes(cache, marshal.dumps((PLANNED_FORMAT, key, planned.ref.repo_type, planned.ref.repo_id,
                                            planned.commit, planned.folders, planned.updating)))
