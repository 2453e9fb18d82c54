"""Offline verification: every downloaded file against the hash the Hub gave, and the checksum files.

The expected hashes come from the repo's recorded listing (or, for folders fetched by ``hf download``, the
etags in huggingface_hub's ``.metadata`` files): sha256 for LFS files, git's blob sha1 for the rest, the rule
``hf cache verify`` uses. A damaged file loses its ``.metadata`` so the next ``download --run`` fetches it again.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..remote import RemoteFile
from ..repos import RepoRef, RepoType
from ..states import PROBLEMS, CheckStatus
from . import metadata
from .checksums import CHECKSUM_FILES, parse_line
from .hashcache import HashCache
from .hashing import hash_many
from .inventory import guess_repo_id, now_iso, repo_folders
from .jsonio import write_json_atomic
from .record import read_record

if TYPE_CHECKING:
    import threading

REPORT_FILE = "inventory/verify_report.json"
Queued = tuple[str, str, str]  # (repo_id, repo_type, path) of a file about to be hashed


@dataclass(frozen=True)
class FileCheck:
    """The outcome for one file. ``source`` says which record expected it: the Hub listing or a checksum file."""

    status: CheckStatus
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
        return {"checked": len(self.checks), "ok": c[CheckStatus.OK], "mismatch": c[CheckStatus.MISMATCH],
                "missing": c[CheckStatus.MISSING], "partial": c[CheckStatus.PARTIAL]}

    @property
    def problems(self) -> list[FileCheck]:
        return sorted((x for x in self.checks if x.status in PROBLEMS),
                      key=lambda x: (PROBLEMS.index(x.status), x.repo_type, x.repo_id, x.path))

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> dict[str, object]:
        return {"schema_version": 1, "generated_at": self.generated_at, "counts": self.counts,
                "problems": [{"status": p.status, "repo_id": p.repo_id, "repo_type": p.repo_type, "path": p.path,
                              "detail": p.detail, "source": p.source} for p in self.problems]}


@dataclass(frozen=True)
class _ToHash:
    """A file at its expected size: its bytes decide. ``cache`` is its repo's remembered hashes."""

    repo_id: str
    repo_type: RepoType
    remote: RemoteFile
    paths: metadata.DownloadPaths
    cache: HashCache

    def check(self, status: CheckStatus, detail: str = "") -> FileCheck:
        return FileCheck(status, self.repo_id, self.repo_type, self.remote.path, detail)


def expected_files(local_dir: Path) -> tuple[str | None, list[RemoteFile]]:
    """The repo id and the files the folder should hold, with the Hub's hashes."""
    record = read_record(local_dir)
    if record is not None:
        return record.listing.ref.repo_id, record.planned()
    download = metadata.hf_dir(local_dir) / "download"
    files = []
    for meta in sorted(download.rglob("*.metadata")) if download.is_dir() else []:
        path = meta.relative_to(download).as_posix()[: -len(".metadata")]
        m = metadata.read_metadata(metadata.download_paths(local_dir, path))
        if m is None:
            continue
        size = (local_dir / path).stat().st_size if (local_dir / path).is_file() else -1
        files.append(RemoteFile(path, size, m.etag, None) if len(m.etag) == 40 else RemoteFile(path, size, "", m.etag))
    return None, files


def verify(root: Path, refs: list[RepoRef] | None = None, *, on_check: Callable[[FileCheck], object] | None = None,
           on_queued: Callable[[list[Queued]], object] | None = None, full: bool = False,
           cancel: threading.Event | None = None) -> VerifyResult:
    """Check the repos of ``refs`` (every local repo when None) and, for a whole-root run, the checksum files.

    ``on_queued`` hears every file about to be hashed; ``on_check`` hears each outcome as it is known. An
    unchanged file's earlier hash is reused unless ``full``. Setting ``cancel`` stops after the files in hand."""
    result = VerifyResult()

    def add(check: FileCheck) -> None:
        result.checks.append(check)
        if on_check:
            on_check(check)

    to_hash: list[_ToHash] = []
    caches: list[HashCache] = []
    for repo_type, local_dir, ref in _targets(root, refs):
        if ref is not None:  # asked for, never downloaded
            add(FileCheck(CheckStatus.MISSING, ref.repo_id, repo_type, local_dir.relative_to(root).as_posix(),
                          "not downloaded"))
            continue
        caches.append(HashCache(local_dir))
        to_hash += _check_sizes(repo_type, local_dir, caches[-1], add)
    if on_queued and to_hash:
        on_queued([(t.repo_id, t.repo_type, t.remote.path) for t in to_hash])
    sha256_seen: dict[Path, str] = {}
    with contextlib.closing(_digests(to_hash, full)) as digests:
        for item, digest in digests:
            if cancel is not None and cancel.is_set():
                break
            if isinstance(digest, str) and item.remote.algorithm == "sha256":
                sha256_seen[item.paths.file_path] = digest
            add(_judge(item, digest))
    for cache in caches:
        cache.save()
    if refs is None and not (cancel is not None and cancel.is_set()):
        _verify_checksum_files(root, sha256_seen, add)
    return result


def _targets(root: Path, refs: list[RepoRef] | None) -> Iterator[tuple[RepoType, Path, RepoRef | None]]:
    """The repo folders to check; a wanted repo without a folder comes with its ref."""
    wanted = {r.local_dir(root) for r in refs} if refs is not None else None
    for repo_type, d in repo_folders(root):
        if wanted is None or d in wanted:
            yield repo_type, d, None
    for r in refs or []:
        if not r.local_dir(root).is_dir():
            yield r.repo_type, r.local_dir(root), r


def _check_sizes(repo_type: RepoType, local_dir: Path, cache: HashCache,
                 add: Callable[[FileCheck], None]) -> list[_ToHash]:
    """Judge what sizes alone can (missing, partial, too long); return the files whose bytes must decide."""
    repo_id, files = expected_files(local_dir)
    repo_id = repo_id or guess_repo_id(repo_type, local_dir)
    out = []
    for f in files:
        paths = metadata.download_paths(local_dir, f.path)
        try:
            size = paths.file_path.stat().st_size
        except OSError:
            size = -1
        if size < 0:
            partial = metadata.partial_size(paths, f.etag)
            add(FileCheck(CheckStatus.PARTIAL, repo_id, repo_type, f.path, f"{partial} of {f.size} bytes downloaded")
                if partial else FileCheck(CheckStatus.MISSING, repo_id, repo_type, f.path, "not on disk"))
        elif 0 <= f.size != size:
            short = size < f.size
            add(FileCheck(CheckStatus.PARTIAL, repo_id, repo_type, f.path, f"{size} of {f.size} bytes") if short
                else FileCheck(CheckStatus.MISMATCH, repo_id, repo_type, f.path, f"size {size}, the Hub says {f.size}"))
            metadata.forget(paths)
        else:
            out.append(_ToHash(repo_id, repo_type, f, paths, cache))
    return out


def _digests(items: list[_ToHash], full: bool) -> Generator[tuple[_ToHash, str | OSError]]:
    """Each file's digest: remembered ones first (unless ``full``), then the rest hashed on every core and
    remembered for next time."""
    to_hash: dict[tuple[Path, str], _ToHash] = {}
    for item in items:
        remembered = None if full else item.cache.get(item.remote.path, item.remote.algorithm)
        if remembered is not None:
            yield item, remembered
        else:
            to_hash[(item.paths.file_path, item.remote.algorithm)] = item
    for path, algorithm, digest in hash_many(list(to_hash)):
        item = to_hash[(path, algorithm)]
        if isinstance(digest, str):
            with contextlib.suppress(OSError):
                item.cache.put(item.remote.path, algorithm, digest, path.stat())
        yield item, digest


def _judge(item: _ToHash, digest: str | OSError) -> FileCheck:
    """The verdict on one hashed file; a mismatch loses its ``.metadata`` and its remembered hash."""
    remote = item.remote
    if isinstance(digest, OSError):
        return item.check(CheckStatus.MISSING, f"unreadable: {digest.strerror}")
    if digest == remote.etag:
        return item.check(CheckStatus.OK)
    metadata.forget(item.paths)
    item.cache.forget(remote.path)
    return item.check(CheckStatus.MISMATCH, f"{remote.algorithm} {digest[:12]}…, the Hub says {remote.etag[:12]}…")


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
                add(FileCheck(CheckStatus.MISSING, rel, repo_type, p, "listed in the checksum file, not on disk", rel))
            elif actual != digest:
                add(FileCheck(CheckStatus.MISMATCH, rel, repo_type, p,
                              f"sha256 {actual[:12]}…, {rel} says {digest[:12]}…", rel))
            else:
                add(FileCheck(CheckStatus.OK, rel, repo_type, p, "", rel))


def write_report(root: Path, result: VerifyResult) -> Path:
    target = root / REPORT_FILE
    write_json_atomic(target, result.report())
    return target
