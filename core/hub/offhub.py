"""Planning a catalog source the Hub lacks (``core/sources.toml``): its parts as a listing the download engine
runs like any repo's, each file's etag saying which checksum proves it (``core.remote.PREFIXED``): a published
value, one read now from the publisher (Zenodo's API, GCS's ``x-goog-hash``), a sha256 pinned at the first
download, or, the first time, none (``tofu:``, said in the plan). Each part keeps its own URL (pointed at
``MUSICGEN_SOURCES_ENDPOINT`` when set)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ..archive.extract import is_archive
from ..local import metadata
from ..local.compare import plan_files
from ..local.manifests import EXTRACTED
from ..plan import PlannedFiles, RepoPlan
from ..remote import Listing, RemoteFile
from ..repos import RepoRef
from ..sizes import human
from ..sources import Source
from ..states import RepoStatus
from .publishers import Publishers

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tbz2", ".txz", ".tar", ".zip")


def tree_name(archive: str) -> str:
    """The folder an archive is extracted into, beside it: its name without the archive's suffix."""
    base = archive.rpartition("/")[2]
    lower = base.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return base[: -len(suffix)]
    return base


def manifest_path(local_dir: Path, archive: str) -> Path:
    return local_dir / EXTRACTED / f"{tree_name(archive)}.sha256"


def dropped_marker(local_dir: Path, archive: str) -> Path:
    """Beside an archive's manifest: the etag of the archive a ``--drop-archives`` run removed once extracted."""
    return manifest_path(local_dir, archive).with_suffix(".dropped")


def was_dropped(local_dir: Path, archive: str, etag: str) -> bool:
    """Whether this very archive (``etag``, or for a ``tofu:`` one any pinned sha256) was extracted and dropped."""
    try:
        said = dropped_marker(local_dir, archive).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    same = said == etag or (etag.startswith("tofu:") and said.startswith("sha256:"))
    return same and manifest_path(local_dir, archive).is_file()


def plan_source(rp: RepoPlan, source: Source, asked: str, publishers: Publishers,
                say: Callable[[str], object]) -> None:
    """Fill ``rp`` (made for the source's id) with the source's chosen parts compared with the disk; a failure to
    ask the publisher becomes its status and message."""
    rp.profile = source.profile(asked)
    rp.origin = source
    parts: list[tuple[RemoteFile, str]] = []  # (file, url)
    if source.zenodo is not None:
        say(f"asking Zenodo for record {source.zenodo}")
        listed = publishers.zenodo(source.zenodo)
        keys = set(source.chosen(rp.profile, [f.key for f in listed]))
        parts = [(RemoteFile(f.key, f.size, f"md5:{f.md5}"), f.url) for f in listed if f.key in keys]
    else:
        for part in source.parts:
            if part.name not in source.chosen(rp.profile):
                continue
            url, size = publishers.url(part.url), part.size
            if source.checks == "gcs" or size is None:
                say(f"asking {publishers.host(part.url)} for {part.name}")
                head = publishers.head(part.url)
                size = head.size if size is None else size
                if source.checks == "gcs":
                    if head.md5 is None:
                        rp.fail(RepoStatus.ERROR, f"{part.name}: the host served no md5 in x-goog-hash to check it by")
                        return
                    etag = f"md5:{head.md5}"
            if size is None:
                rp.fail(RepoStatus.ERROR, f"{part.name}: the host says no size (no Content-Length)")
                return
            if source.checks != "gcs":
                etag = _pinned(rp.local_dir, part.dest, url) if source.checks == "none" else str(part.checksum)
            parts.append((RemoteFile(part.dest, size, etag), url))
    if not parts:
        rp.fail(RepoStatus.ERROR, f"profile {rp.profile} of {source.id} chooses no part of it")
        return
    commit = hashlib.sha1("\n".join(f"{f.path}\t{f.size}\t{f.etag}" for f, _ in parts).encode()).hexdigest()
    rp.listing = Listing(rp.ref, commit, [f for f, _ in parts])
    rp.urls = {f.path: url for f, url in parts}
    plan_parts(rp, [f for f, _ in parts])
    for f, _ in parts:
        if f.etag.startswith("tofu:"):
            rp.notes.append(f"{f.path}: the publisher gives no checksum: the sha256 of this first download is pinned, "
                            "and later downloads and verify are checked against it")
        elif source.checks == "none":
            rp.notes.append(f"{f.path}: no published checksum; checked against the sha256 pinned at its first "
                            f"download ({f.etag.partition(':')[2][:12]}…)")
    if rp.extract_bytes:  # counted in the disk check: an archive of audio unpacks to about its own size
        rp.notes.append(f"archives are extracted beside themselves once verified (about "
                        f"{human(rp.extract_bytes)} more, counted in the disk check)")
    if rp.ok and not rp.pending_count:
        rp.status = RepoStatus.COMPLETE


def _pinned(local_dir: Path, dest: str, url: str) -> str:
    """The sha256 a first download pinned (its ``.metadata`` etag), or ``tofu:`` and a key of the URL."""
    meta = metadata.read_metadata(metadata.download_paths(local_dir, dest))
    if meta is not None and meta.etag.startswith("sha256:"):
        return meta.etag
    return "tofu:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def plan_parts(rp: RepoPlan, parts: list[RemoteFile]) -> None:
    """A source's parts compared with the disk (``_with_extraction``), and what extracting the pending archives
    takes on disk (their own size, counted in the disk check)."""
    rp.files = _with_extraction(rp.local_dir, plan_files(rp.local_dir, parts))
    rp.extract_bytes = sum(fp.remote.size for fp in rp.files.pending() if is_archive(fp.remote.path))


def _with_extraction(local_dir: Path, files: PlannedFiles) -> PlannedFiles:
    """An archive that is whole but whose tree has no manifest (never extracted, or cut off) is checked again:
    hashed against its checksum, then extracted; one dropped once extracted (``--drop-archives``) is left out."""
    out = PlannedFiles()
    for fp in files:
        if fp.action == "skip" and is_archive(fp.remote.path) and \
                not manifest_path(local_dir, fp.remote.path).is_file():
            out.add(fp.remote, "check")
        elif fp.action == "fetch" and not fp.present and is_archive(fp.remote.path) and \
                was_dropped(local_dir, fp.remote.path, fp.remote.etag):
            continue  # extracted, then dropped (--drop-archives): its tree stands for it
        else:
            out.append(fp)
    return out


def source_ref(source: Source) -> RepoRef:
    return RepoRef(source.repo_type, source.id)
