"""sha256sum-compatible checksum files for the large files under ``models/`` and ``datasets/``."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..remote import SEP
from . import hashing
from .hashing import ROUND, SMALL, hash_many
from .inventory import LocalRepo, repo_folders
from .jsonio import write_text_atomic
from .safeio import make_dirs
from .walk import FileTable, Visit, walk

DEFAULT_MIN_SIZE = 100 << 20
CHECKSUM_FILES = {"model": "models/checksums.sha256", "dataset": "datasets/checksums.sha256"}


def escape_name(name: str) -> tuple[str, str]:
    """sha256sum's escaping: a name with a backslash or newline gets a leading ``\\`` on its line."""
    if "\\" in name or "\n" in name or "\r" in name:
        return "\\", name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "", name


def unescape_name(prefix: str, name: str) -> str:
    if prefix != "\\":
        return name
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(name[i + 1], name[i + 1]))
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def format_line(digest: str, relpath: str) -> str:
    prefix, name = escape_name(relpath)
    return f"{prefix}{digest}  {name}\n"


def parse_line(line: str) -> tuple[str, str] | None:
    """``(hexdigest, path)`` from a sha256sum line (text or ``*`` binary mode), or None."""
    line = line.rstrip("\n")
    prefix = "\\" if line.startswith("\\") else ""
    body = line[len(prefix):]
    if len(body) < 67 or body[64] != " " or body[65] not in " *":
        return None
    digest = body[:64].lower()
    if any(c not in "0123456789abcdef" for c in digest):
        return None
    return digest, unescape_name(prefix, body[66:])


@dataclass(frozen=True)
class ChecksumFile:
    path: Path
    entries: int
    bytes: int


Tables = list[tuple[str, FileTable]]  # (a repo folder relative to the root, its files)


def write_checksums(root: Path, min_size: int = DEFAULT_MIN_SIZE,
                    repos: list[LocalRepo] | None = None) -> list[ChecksumFile]:
    """Hash every file over ``min_size`` and write one checksum file per kind that has any; a kind with none
    loses its stale checksum file. Lines are sorted by path, relative to the root.

    Without ``repos`` (an inventory's scan) each repo folder is walked once, and its small files are hashed by
    the walk as it meets them (``_small_digests``): the folder is open and its entries fresh, and the two
    processes of the walk share the hashing. Larger files, and every file of ``repos``, are hashed afterwards
    in rounds on every core."""
    visit = _small_digests(min_size)
    tables = [(r.repo_type, r.path, r.table) for r in repos] if repos is not None else \
        [(t, d.relative_to(root).as_posix(), walk(d, visit)) for t, d in repo_folders(root)]
    written = []
    for repo_type, rel in CHECKSUM_FILES.items():
        target = root / rel
        mine = [(path, table) for t, path, table in tables if t == repo_type]
        count = sum(1 for _, table in mine for _, _, sizes in table.groups for s in sizes if s > min_size)
        if not count:
            target.unlink(missing_ok=True)
            continue
        total = sum(s for _, table in mine for _, _, sizes in table.groups for s in sizes if s > min_size)
        make_dirs(target.parent, root)
        write_text_atomic(target, _lines(root, mine, min_size))
        written.append(ChecksumFile(target, count, total))
    return written


def _small_digests(min_size: int) -> Visit:
    """The walk's visit: the sha256 of each file over ``min_size`` and under ``SMALL`` (one read), joined by
    SEP; "" for the others, and for a file that could not be read (hashed again later, where its error is
    raised with its path)."""
    def visit(fd: int, names: list[str], sizes: array) -> str:
        out = []
        for name, size in zip(names, sizes, strict=True):
            if min_size < size < SMALL:
                try:
                    out.append(hashing.hash_file(name, "sha256", size, dir_fd=fd))
                    continue
                except OSError:
                    pass
            out.append("")
        return SEP.join(out)
    return visit


def _lines(root: Path, tables: Tables, min_size: int) -> Iterator[str]:
    """The checksum lines, sorted by path; the files the walk did not hash are hashed a round of ``ROUND``
    files at a time, on every core."""
    rows: list[tuple[str, int, str]] = []
    for row in _in_path_order(tables, min_size):
        rows.append(row)
        if len(rows) >= ROUND:
            yield _round(root, rows)
            rows = []
    if rows:
        yield _round(root, rows)


def _in_path_order(tables: Tables, min_size: int) -> Iterator[tuple[str, int, str]]:
    """``(path, size, digest or "")`` of every file over ``min_size``, in the order a sort of all the paths
    gives, without holding them: folder by folder from the root, a folder's files and subfolders merged by
    name, a subfolder ``d`` keyed ``d/`` (everything below it starts so, and sorts there)."""
    folders: dict[str, list[tuple[FileTable, int]]] = {}  # "models/a/b/" -> its groups (the walk may split one)
    for path, table in tables:
        for g, (prefix, _, _) in enumerate(table.groups):
            folders.setdefault(f"{path}/{prefix}", []).append((table, g))
    subfolders: dict[str, set[str]] = {}
    for folder in folders:
        while folder:
            parent, _, name = folder[:-1].rpartition("/")
            parent += "/" if parent else ""
            known = subfolders.setdefault(parent, set())
            if name in known:
                break
            known.add(name)
            folder = parent

    def below(folder: str) -> Iterator[tuple[str, int, str]]:
        entries: list[tuple[str, int, str]] = [(name + "/", -1, "") for name in subfolders.get(folder, ())]
        for table, g in folders.get(folder, ()):
            _, names, sizes = table.groups[g]
            digests = table.visited[g].split(SEP) if table.visited is not None else [""] * len(names)
            entries += [e for e in zip(names, sizes, digests, strict=True) if e[1] > min_size]
        entries.sort()
        for name, size, digest in entries:
            if size < 0:
                yield from below(folder + name)
            else:
                yield folder + name, size, digest

    return below("")


def _round(root: Path, rows: list[tuple[str, int, str]]) -> str:
    todo = [i for i, row in enumerate(rows) if not row[2]]
    if todo:
        top = str(root)
        for k, digest in hash_many([(f"{top}/{rows[i][0]}", "sha256", rows[i][1]) for i in todo]):
            if isinstance(digest, OSError):
                raise digest
            path, size, _ = rows[todo[k]]
            rows[todo[k]] = (path, size, digest)
    return "".join(format_line(digest, path) for path, _, digest in rows)
