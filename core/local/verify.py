"""Offline verification: every downloaded file against the hash the Hub gave, and the checksum files.

The expected hashes come from the repo's recorded listing (or, for folders fetched by ``hf download``, the
etags in huggingface_hub's ``.metadata`` files): sha256 for LFS files, git's blob sha1 for the rest, the rule
``hf cache verify`` uses. A damaged file loses its ``.metadata`` so the next ``download --run`` fetches it again.
"""

from __future__ import annotations

import contextlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import cannot_write
from ..remote import hash_algorithm, proves, shown_hash
from ..repos import RepoRef, RepoType
from ..states import PROBLEMS, CheckStatus
from . import metadata
from .checksums import CHECKSUM_FILES, parse_line
from .extras import extra_files
from .hashcache import Entry, HashCache
from .hashing import ROUND, hash_many
from .inventory import guess_repo_id, now_iso, repo_folders
from .jsonio import write_json_atomic
from .manifests import check_tree, manifests
from .record import Folder, Folders, pack, read_planned_sizes, unpack
from .safeio import make_dirs
from .walk import KEY_FIELDS, stat_folders

if TYPE_CHECKING:
    import threading

REPORT_FILE = "inventory/verify_report.json"
DIGITS = {"sha256": 64, "git-sha1": 40, "sha1": 40, "md5": 32}  # hex digits of each algorithm's digest
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
    """Counts and problems; an OK file is counted, never kept (a 300,000-file root would hold 300,000 objects)."""

    tally: Counter[CheckStatus] = field(default_factory=Counter)
    found: list[FileCheck] = field(default_factory=list)
    repos: set[tuple[str, str]] = field(default_factory=set)  # (repo_type, repo_id) of each repo folder checked
    generated_at: str = field(default_factory=now_iso)
    sum_lines: int = 0  # lines of the checksum files checked (their files are counted once, by the Hub check)
    extras: list[FileCheck] = field(default_factory=list)  # files no record lists: said, not problems

    def add(self, check: FileCheck) -> None:
        if check.status is CheckStatus.EXTRA:
            self.extras.append(check)
            return
        self.tally[check.status] += 1
        if check.status in PROBLEMS:
            self.found.append(check)

    @property
    def counts(self) -> dict[str, int]:
        c = self.tally
        return {"checked": c.total(), "ok": c[CheckStatus.OK], "mismatch": c[CheckStatus.MISMATCH],
                "missing": c[CheckStatus.MISSING], "partial": c[CheckStatus.PARTIAL], "checksum_lines": self.sum_lines,
                "extra": len(self.extras)}

    @property
    def problems(self) -> list[FileCheck]:
        return sorted(self.found, key=lambda x: (PROBLEMS.index(x.status), x.repo_type, x.repo_id, x.path))

    @property
    def ok(self) -> bool:
        return not self.found

    def report(self) -> dict[str, object]:
        return {"schema_version": 1, "generated_at": self.generated_at, "counts": self.counts,
                "problems": [{"status": p.status, "repo_id": p.repo_id, "repo_type": p.repo_type, "path": p.path,
                              "detail": p.detail, "source": p.source} for p in self.problems],
                "extra": [{"repo_id": x.repo_id, "repo_type": x.repo_type, "path": x.path} for x in self.extras]}




def expected_files(local_dir: Path) -> tuple[str | None, Folders]:
    """The repo id and the files the folder should hold, by folder, with the Hub's hashes."""
    planned = read_planned_sizes(local_dir)
    if planned is not None:
        return planned.ref.repo_id, planned.folders
    download = metadata.hf_dir(local_dir) / "download"
    lists: dict[str, tuple[list[str], list[int], list[str]]] = {}
    for meta in sorted(download.rglob("*.metadata")) if download.is_dir() else []:
        path = meta.relative_to(download).as_posix()[: -len(".metadata")]
        m = metadata.read_metadata(metadata.download_paths(local_dir, path))
        if m is None:
            continue
        size = (local_dir / path).stat().st_size if (local_dir / path).is_file() else -1
        folder, slash, name = path.rpartition("/")
        names, sizes, etags = lists.setdefault(folder + slash, ([], [], []))
        names.append(name)
        sizes.append(size)
        etags.append(m.etag)
    return None, {prefix: pack(*entry) for prefix, entry in lists.items()}


class _Run:
    """One verification: where outcomes go, what is cancelled, and the sha256 digests the checksum files reuse."""

    def __init__(self, result: VerifyResult, on_check: Callable[[FileCheck], object] | None,
                 on_queued: Callable[[list[Queued]], object] | None, full: bool,
                 cancel: threading.Event | None, keep_sha256: bool) -> None:
        self.result, self.on_check, self.on_queued, self.full, self.cancel = result, on_check, on_queued, full, cancel
        self.sha256: dict[str, str] | None = {} if keep_sha256 else None  # root-relative path -> digest

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def add(self, check: FileCheck) -> None:
        self.result.add(check)
        if self.on_check:
            self.on_check(check)


def verify(root: Path, refs: list[RepoRef] | None = None, *, on_check: Callable[[FileCheck], object] | None = None,
           on_queued: Callable[[list[Queued]], object] | None = None, full: bool = False,
           cancel: threading.Event | None = None) -> VerifyResult:
    """Check the repos of ``refs`` (every local repo when None) and, for a whole-root run, the checksum files.

    ``on_queued`` hears the files about to be hashed; ``on_check`` hears each outcome as it is known. An
    unchanged file's earlier hash is reused unless ``full``. Setting ``cancel`` stops after the files in hand."""
    result = VerifyResult()
    sums = [root / rel for rel in CHECKSUM_FILES.values()] if refs is None else []
    run = _Run(result, on_check, on_queued, full, cancel, any(p.is_file() for p in sums))
    for repo_type, local_dir, ref in _targets(root, refs):
        if run.cancelled:
            break
        if ref is not None:  # asked for, never downloaded
            run.add(FileCheck(CheckStatus.MISSING, ref.repo_id, repo_type, local_dir.relative_to(root).as_posix(),
                              "not downloaded"))
            continue
        _verify_repo(run, root, repo_type, local_dir)
    if run.sha256 is not None and not run.cancelled:
        _remember_sha256(root, _verify_checksum_files(root, run.sha256, run))
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


@dataclass
class _Folder:
    """A changed folder while its files are judged: its files as lists, and the digests found so far."""

    prefix: str
    packed: Folder
    keys: array
    names: list[str]
    sizes: array
    etags: list[str]
    digests: list[str]
    sha256s: list[str]  # of its git-blob files, as remembered (for the checksum files)


Pending = list[tuple[_Folder, int]]  # files to hash: their folder and index


def _verify_repo(run: _Run, root: Path, repo_type: RepoType, local_dir: Path) -> None:
    """One repo folder, folder by folder: a folder whose names, stat keys and remembered digests match the
    record is judged in three comparisons, with no object made per file; the rest file by file, hashing what
    must be hashed in rounds of ``ROUND`` files."""
    repo_id, folders = expected_files(local_dir)
    repo_id = repo_id or guess_repo_id(repo_type, local_dir)
    run.result.repos.add((repo_type, repo_id))
    cache = HashCache(local_dir)
    base = local_dir.relative_to(root).as_posix() + "/"
    keys = stat_folders(local_dir, [(p, f[0]) for p, f in folders.items()])
    pending: Pending = []
    for prefix in sorted(folders):
        if run.cancelled:
            break
        packed, here = folders[prefix], keys[prefix]
        known = None if run.full else cache.folder(prefix)
        if known is not None and known[0] == packed[0] and known[1] == here.tobytes() and known[2] == packed[2]:
            _unchanged(run, repo_id, repo_type, base, prefix, packed, len(here) // KEY_FIELDS, known[3])
            continue
        names, sizes, etags = unpack(packed)
        folder = _Folder(prefix, packed, here, names, sizes, etags, [""] * len(names), [""] * len(names))
        before = len(pending)
        _check_folder(run, local_dir, repo_id, repo_type, folder, known, pending, base)
        if len(pending) == before:
            cache.put_folder(prefix, packed[0], here, folder.digests, folder.sha256s)
        if len(pending) >= ROUND:
            _hash_pending(run, local_dir, repo_id, repo_type, pending, base, cache)
    _hash_pending(run, local_dir, repo_id, repo_type, pending, base, cache)
    if not run.cancelled:
        cache.keep_only(set(folders))
    cache.save()
    trees = manifests(local_dir)
    for manifest in trees:  # the trees extracted from its archives, file by file
        for c in check_tree(manifest, local_dir, full=run.full, cancel=run.cancel):
            run.add(FileCheck(c.status, repo_id, repo_type, c.path, c.detail, source="archive"))
    if not trees and not run.cancelled:  # an archive's tree is listed by its manifest, not the record
        for path in extra_files(local_dir, folders):
            run.add(FileCheck(CheckStatus.EXTRA, repo_id, repo_type, path, "not in the recorded listing"))


def _unchanged(run: _Run, repo_id: str, repo_type: RepoType, base: str, prefix: str, packed: Folder,
               count: int, sha256s: str) -> None:
    """A folder unchanged since each of its files matched: counted; files are named only to who listens."""
    run.result.tally[CheckStatus.OK] += count
    if run.on_check is None and run.sha256 is None:
        return
    names, _, etags = unpack(packed)
    if run.on_check:
        for name in names:
            run.on_check(FileCheck(CheckStatus.OK, repo_id, repo_type, prefix + name))
    if run.sha256 is not None:
        run.sha256.update((base + prefix + n, e) for n, e in zip(names, etags, strict=True) if len(e) == 64)
        if sha256s:  # the git-blob files' sha256, remembered from an earlier check of the checksum files
            run.sha256.update((base + prefix + n, s) for n, s in zip(names, sha256s.split("\0"), strict=True) if s)


def _check_folder(run: _Run, local_dir: Path, repo_id: str, repo_type: RepoType, folder: _Folder,
                  known: Entry | None, pending: Pending, rel: str) -> None:
    """Judge a changed folder file by file: sizes first, then a remembered digest whose stat key still holds;
    queue the rest for hashing. The digests found go in ``folder.digests``."""
    names, sizes, etags, keys, prefix = folder.names, folder.sizes, folder.etags, folder.keys, folder.prefix
    width = 8 * KEY_FIELDS
    old: dict[str, tuple[bytes, str, str]] = {}
    if known is not None:
        named = known[0].split("\0")
        extra = known[3].split("\0") if known[3] else [""] * len(named)
        old = {n: (known[1][i * width:(i + 1) * width], d, s)
               for i, (n, d, s) in enumerate(zip(named, known[2].split("\0"), extra, strict=False))}
    raw = keys.tobytes()
    base = len(pending)
    for i, (name, expected) in enumerate(zip(names, sizes, strict=True)):
        size = keys[KEY_FIELDS * i]
        path = prefix + name
        if size < 0:
            paths = metadata.download_paths(local_dir, path)
            partial = metadata.partial_size(paths, etags[i], expected)
            run.add(FileCheck(CheckStatus.PARTIAL, repo_id, repo_type, path,
                              f"{partial} of {expected} bytes downloaded") if partial else
                    FileCheck(CheckStatus.MISSING, repo_id, repo_type, path, "not on disk"))
        elif 0 <= expected != size:
            run.add(FileCheck(CheckStatus.PARTIAL, repo_id, repo_type, path, f"{size} of {expected} bytes")
                    if size < expected else
                    FileCheck(CheckStatus.MISMATCH, repo_id, repo_type, path, f"size {size}, the Hub says {expected}"))
            _forget(local_dir, path)
        else:
            key, digest, sha256 = old.get(name, (b"", "", ""))
            if key == raw[i * width:(i + 1) * width] and len(digest) == DIGITS[hash_algorithm(etags[i])]:
                folder.digests[i] = _judge(run, local_dir, repo_id, repo_type, path, etags[i], digest)
                sha256 = digest if len(digest) == 64 else sha256  # an LFS file's own digest is its sha256
                if sha256 and proves(etags[i], digest):
                    folder.sha256s[i] = sha256 if len(digest) != 64 else ""
                    if run.sha256 is not None:
                        run.sha256[rel + path] = sha256
            else:
                pending.append((folder, i))
    if run.on_queued and len(pending) > base:
        run.on_queued([(repo_id, repo_type, prefix + names[i]) for _, i in pending[base:]])


def _hash_pending(run: _Run, local_dir: Path, repo_id: str, repo_type: RepoType, pending: Pending, base: str,
                  cache: HashCache) -> None:
    """Hash the queued files on every core and judge each; then remember their folders."""
    if not pending or run.cancelled:
        pending.clear()
        return
    top = str(local_dir)
    jobs = [(f"{top}/{f.prefix}{f.names[i]}", hash_algorithm(f.etags[i]), f.sizes[i]) for f, i in pending]
    with contextlib.closing(hash_many(jobs, run.cancel)) as digests:
        for k, digest in digests:
            if run.cancelled:
                break
            folder, i = pending[k]
            path = folder.prefix + folder.names[i]
            if isinstance(digest, OSError):
                run.add(FileCheck(CheckStatus.MISSING, repo_id, repo_type, path, f"unreadable: {digest.strerror}"))
                continue
            folder.digests[i] = _judge(run, local_dir, repo_id, repo_type, path, folder.etags[i], digest)
            if run.sha256 is not None and len(digest) == 64:
                run.sha256[base + path] = digest
    if not run.cancelled:
        for folder in {id(f): f for f, _ in pending}.values():
            cache.put_folder(folder.prefix, folder.packed[0], folder.keys, folder.digests, folder.sha256s)
    pending.clear()


def _forget(local_dir: Path, path: str) -> None:
    """A damaged file loses its ``.metadata``, so the next download fetches it again; on a read-only root the
    verdict stands alone (no download can happen there)."""
    try:
        metadata.forget(metadata.download_paths(local_dir, path))
    except OSError as e:
        if not cannot_write(e):
            raise


def _judge(run: _Run, local_dir: Path, repo_id: str, repo_type: RepoType, path: str, etag: str, digest: str) -> str:
    """The verdict on one file's digest; a mismatch loses its ``.metadata``. Returns what to remember (the
    record's own string when it matches, so memory holds one copy)."""
    if proves(etag, digest):
        if run.on_check:
            run.add(FileCheck(CheckStatus.OK, repo_id, repo_type, path))
        else:  # nobody listens: an OK file is counted, no object made
            run.result.tally[CheckStatus.OK] += 1
        return etag if digest == etag else digest
    _forget(local_dir, path)
    said = f"the publisher says {shown_hash(etag)}" if ":" in etag else f"the Hub says {etag[:12]}…"
    run.add(FileCheck(CheckStatus.MISMATCH, repo_id, repo_type, path, f"{hash_algorithm(etag)} {digest[:12]}…, {said}"))
    return digest


def _verify_checksum_files(root: Path, known: dict[str, str], run: _Run) -> dict[str, str]:
    """Check each line of ``models/checksums.sha256`` / ``datasets/checksums.sha256``, reusing known hashes. A
    line that agrees is counted as a line, not as a file again (its file was counted by the Hub check); one
    that does not is a problem of its own. Returns the digests it had to compute."""
    add = run.add
    hashed: dict[str, str] = {}
    for repo_type, rel in CHECKSUM_FILES.items():
        target = root / rel
        if not target.is_file():
            continue
        entries = [e for line in target.read_text(encoding="utf-8").splitlines() if (e := parse_line(line))]
        todo = [p for _, p in entries if p not in known]
        jobs = [(str(root / p), "sha256", -1) for p in todo]  # sizes unknown: -1 reads each file to its end
        for k, digest in hash_many(jobs):
            if isinstance(digest, str):
                known[todo[k]] = hashed[todo[k]] = digest
        for digest, p in entries:
            actual = known.get(p)
            if actual is None:
                add(FileCheck(CheckStatus.MISSING, rel, repo_type, p, "listed in the checksum file, not on disk", rel))
            elif actual != digest:
                add(FileCheck(CheckStatus.MISMATCH, rel, repo_type, p,
                              f"sha256 {actual[:12]}…, {rel} says {digest[:12]}…", rel))
            run.result.sum_lines += 1
    return hashed


def _remember_sha256(root: Path, hashed: dict[str, str]) -> None:
    """Keep the sha256s a checksum file made us compute in their repos' hash caches (a git-blob file's own
    digest is not one), so the next verify of an unchanged tree reads none of them again."""
    repos = {d.relative_to(root).as_posix() + "/": d for _, d in repo_folders(root)} if hashed else {}
    found: dict[Path, dict[str, dict[str, str]]] = {}  # repo folder -> folder prefix -> name -> sha256
    for path, digest in hashed.items():
        parts = path.split("/")
        for depth in (3, 2):  # models/<org>/<org>_<name>/… or datasets/<org>_<name>/…
            local_dir = repos.get("/".join(parts[:depth]) + "/")
            if local_dir is not None:
                inside = parts[depth:]
                prefix = "/".join(inside[:-1]) + "/" if len(inside) > 1 else ""
                found.setdefault(local_dir, {}).setdefault(prefix, {})[inside[-1]] = digest
                break
    for local_dir, folders in found.items():
        cache = HashCache(local_dir)
        for prefix, names in folders.items():
            cache.put_sha256(prefix, names)
        cache.save()


def write_report(root: Path, result: VerifyResult) -> Path:
    target = root / REPORT_FILE
    make_dirs(target.parent, root)
    write_json_atomic(target, result.report())
    return target
