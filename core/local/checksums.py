"""sha256sum-compatible checksum files for the large files under ``models/`` and ``datasets/``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .hashing import ROUND, hash_many
from .inventory import LocalRepo, scan
from .jsonio import write_text_atomic

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


def large_files(repos: list[LocalRepo], min_size: int) -> list[tuple[str, int]]:
    """``(path relative to the root, size)`` of every file over ``min_size`` bytes, sorted by path."""
    return sorted((f"{r.path}/{p}", s) for r in repos for p, s in r.table if s > min_size)


def write_checksums(root: Path, min_size: int = DEFAULT_MIN_SIZE,
                    repos: list[LocalRepo] | None = None) -> list[ChecksumFile]:
    """Hash every file over ``min_size`` and write one checksum file per kind that has any; a kind with none
    loses its stale checksum file. Lines are sorted by path, relative to the root."""
    repos = scan(root) if repos is None else repos
    written = []
    for repo_type, rel in CHECKSUM_FILES.items():
        target = root / rel
        files = large_files([r for r in repos if r.repo_type == repo_type], min_size)
        if not files:
            target.unlink(missing_ok=True)
            continue
        write_text_atomic(target, _lines(root, files))
        written.append(ChecksumFile(target, len(files), sum(s for _, s in files)))
    return written


def _lines(root: Path, files: list[tuple[str, int]]) -> Iterator[str]:
    """The checksum lines, in ``files``' order, a round of ``ROUND`` files hashed on every core at a time."""
    top = str(root)
    for start in range(0, len(files), ROUND):
        part = files[start:start + ROUND]
        digests = [""] * len(part)
        for k, digest in hash_many([(f"{top}/{p}", "sha256", s) for p, s in part]):
            if isinstance(digest, OSError):
                raise digest
            digests[k] = digest
        yield "".join(format_line(d, p) for d, (p, _) in zip(digests, part, strict=True))
