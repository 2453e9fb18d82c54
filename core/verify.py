"""Offline verification: every downloaded file against the hash the Hub gave, and the checksum files.

The expected hashes come from the repo's recorded listing (or, for folders fetched by ``hf download``, the
etags in huggingface_hub's ``.metadata`` files): sha256 for LFS files, git's blob sha1 for the rest, the rule
``hf cache verify`` uses. A damaged file loses its ``.metadata`` so the next ``download --run`` fetches it again.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import localstate
from .checksums import CHECKSUM_FILES, parse_line
from .hashcache import HashCache
from .hashing import hash_many
from .inventory import now_iso, repo_folders, scan_repo
from .jsonio import write_json_atomic
from .remote import RemoteFile
from .repos import RepoRef, RepoType

Status = Literal["OK", "MISMATCH", "MISSING", "PARTIAL"]
REPORT_FILE = "inventory/verify_report.json"


@dataclass(frozen=True)
class FileCheck:
    """The outcome for one file. ``source`` says which record expected it: the Hub listing or a checksum file."""

    status: Status
    repo_id: str
    repo_type: str
    path: str
    detail: str = ""
    source: str = "hub"


@dataclass
class VerifyResult:
    checks: list[FileCheck] = field(default_factory=list)
    generated_at: str = field(default_factory=now_iso)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(x.status for x in self.checks)
        return {"checked": len(self.checks), "ok": c["OK"], "mismatch": c["MISMATCH"], "missing": c["MISSING"],
                "partial": c["PARTIAL"]}

    @property
    def problems(self) -> list[FileCheck]:
        order = {"MISMATCH": 0, "PARTIAL": 1, "MISSING": 2}
        return sorted((x for x in self.checks if x.status != "OK"),
                      key=lambda x: (order[x.status], x.repo_type, x.repo_id, x.path))

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> dict[str, object]:
        return {"schema_version": 1, "generated_at": self.generated_at, "counts": self.counts,
                "problems": [{"status": p.status, "repo_id": p.repo_id, "repo_type": p.repo_type, "path": p.path,
                              "detail": p.detail, "source": p.source} for p in self.problems]}


def expected_files(local_dir: Path) -> tuple[str | None, list[RemoteFile]]:
    """The repo id and the files the folder should hold, with the Hub's hashes."""
    record = localstate.read_record(local_dir)
    if record is not None:
        return record.listing.ref.repo_id, record.planned()
    download = localstate.hf_dir(local_dir) / "download"
    files = []
    for meta in sorted(download.rglob("*.metadata")) if download.is_dir() else []:
        path = meta.relative_to(download).as_posix()[: -len(".metadata")]
        m = localstate.read_metadata(localstate.download_paths(local_dir, path))
        if m is None:
            continue
        size = (local_dir / path).stat().st_size if (local_dir / path).is_file() else -1
        files.append(RemoteFile(path, size, m.etag, None) if len(m.etag) == 40 else RemoteFile(path, size, "", m.etag))
    return None, files


def _targets(root: Path, refs: list[RepoRef] | None) -> Iterator[tuple[RepoType, Path]]:
    wanted = {r.local_dir(root) for r in refs} if refs is not None else None
    for repo_type, d in repo_folders(root):
        if wanted is None or d in wanted:
            yield repo_type, d
    for r in refs or []:
        if not r.local_dir(root).is_dir():
            yield r.repo_type, r.local_dir(root)


def verify(root: Path, refs: list[RepoRef] | None = None,
           on_check: Callable[[FileCheck], object] | None = None,
           on_queued: Callable[[list[tuple[str, str, str]]], object] | None = None,
           full: bool = False) -> VerifyResult:
    """Check the repos of ``refs`` (every local repo when None) and, for a full run, the checksum files.
    ``on_queued`` hears ``(repo_id, repo_type, path)`` of every file about to be hashed; ``on_check`` hears
    each outcome as it is known. An unchanged file's earlier hash is reused unless ``full``."""
    result = VerifyResult()

    def add(check: FileCheck) -> None:
        result.checks.append(check)
        if on_check:
            on_check(check)

    jobs: list[tuple[Path, str]] = []
    expect: dict[tuple[Path, str], tuple[str, RepoType, str, RemoteFile, Path]] = {}
    caches: dict[Path, HashCache] = {}
    known: dict[tuple[Path, str], str] = {}
    for repo_type, local_dir in _targets(root, refs):
        rel_dir = local_dir.relative_to(root).as_posix()
        if not local_dir.is_dir():
            ref = next(r for r in refs or [] if r.local_dir(root) == local_dir)
            add(FileCheck("MISSING", ref.repo_id, repo_type, rel_dir, "not downloaded"))
            continue
        repo_id, files = expected_files(local_dir)
        repo_id = repo_id or scan_repo(root, repo_type, local_dir).repo_id
        for f in files:
            paths = localstate.download_paths(local_dir, f.path)
            try:
                size = paths.file_path.stat().st_size
            except OSError:
                size = -1
            partial = localstate.partial_size(paths, f.etag)
            if size < 0:
                if partial:
                    add(FileCheck("PARTIAL", repo_id, repo_type, f.path, f"{partial} of {f.size} bytes downloaded"))
                else:
                    add(FileCheck("MISSING", repo_id, repo_type, f.path, "not on disk"))
            elif f.size >= 0 and size < f.size:
                add(FileCheck("PARTIAL", repo_id, repo_type, f.path, f"{size} of {f.size} bytes"))
                localstate.forget(paths)
            elif f.size >= 0 and size > f.size:
                add(FileCheck("MISMATCH", repo_id, repo_type, f.path, f"size {size}, the Hub says {f.size}"))
                localstate.forget(paths)
            else:
                cache = caches.setdefault(local_dir, HashCache(local_dir))
                cached = None if full else cache.get(f.path, f.algorithm)
                if cached is not None:
                    known[(paths.file_path, f.algorithm)] = cached
                else:
                    jobs.append((paths.file_path, f.algorithm))
                expect[(paths.file_path, f.algorithm)] = (repo_id, repo_type, f.path, f, local_dir)

    if on_queued and expect:
        on_queued([(repo_id, repo_type, rel) for repo_id, repo_type, rel, _f, _d in expect.values()])
    sha256_seen: dict[Path, str] = {}

    def outcomes() -> Iterator[tuple[Path, str, str | OSError]]:
        for (path, algorithm), remembered in known.items():
            yield path, algorithm, remembered
        for path, algorithm, fresh in hash_many(jobs):
            if isinstance(fresh, str):
                _id, _type, rel, _f, repo_dir = expect[(path, algorithm)]
                with contextlib.suppress(OSError):
                    caches[repo_dir].put(rel, algorithm, fresh, path.stat())
            yield path, algorithm, fresh

    for path, algorithm, digest in outcomes():
        repo_id, repo_type, rel, f, local_dir = expect[(path, algorithm)]
        if isinstance(digest, OSError):
            add(FileCheck("MISSING", repo_id, repo_type, rel, f"unreadable: {digest.strerror}"))
            continue
        if algorithm == "sha256":
            sha256_seen[path] = digest
        if digest == f.etag:
            add(FileCheck("OK", repo_id, repo_type, rel))
        else:
            add(FileCheck("MISMATCH", repo_id, repo_type, rel,
                          f"{algorithm} {digest[:12]}…, the Hub says {f.etag[:12]}…"))
            localstate.forget(localstate.download_paths(local_dir, rel))
            caches[local_dir].forget(rel)
    for cache in caches.values():
        cache.save()
    if refs is None:
        _verify_checksum_files(root, sha256_seen, add)
    return result


def _verify_checksum_files(root: Path, known: dict[Path, str], add: Callable[[FileCheck], None]) -> None:
    """Check each line of ``models/checksums.sha256`` / ``datasets/checksums.sha256``, reusing known hashes."""
    for repo_type, rel in CHECKSUM_FILES.items():
        target = root / rel
        if not target.is_file():
            continue
        entries = [e for line in target.read_text(encoding="utf-8").splitlines() if (e := parse_line(line))]
        todo = [(root / p, "sha256") for _, p in entries if (root / p) not in known and (root / p).is_file()]
        for path, _alg, digest in hash_many(todo):
            if isinstance(digest, str):
                known[path] = digest
        for digest, p in entries:
            actual = known.get(root / p)
            if actual is None:
                add(FileCheck("MISSING", rel, repo_type, p, "listed in the checksum file, not on disk", rel))
            elif actual != digest:
                add(FileCheck("MISMATCH", rel, repo_type, p, f"sha256 {actual[:12]}…, {rel} says {digest[:12]}…", rel))
            else:
                add(FileCheck("OK", rel, repo_type, p, "", rel))


def write_report(root: Path, result: VerifyResult) -> Path:
    target = root / REPORT_FILE
    write_json_atomic(target, result.report())
    return target
