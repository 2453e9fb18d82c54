"""What follows the bytes of an off-Hub part once they are proven: the sha256 of a first download pinned where
nothing was published (``tofu:``), the source's description kept for the inventories, and an archive extracted
beside itself (``core.archive``), the disk's free space, less the margin, its cap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..archive.extract import Limits, extract, is_archive
from ..archive.members import ArchiveError
from ..local import metadata
from ..local.origin import write_origin
from ..local.record import Record, write_record
from ..local.safeio import replace_bytes
from ..local.space import free_space
from ..plan import FilePlan, RepoPlan
from ..remote import Listing, Paths, RemoteFile
from ..settings import Settings
from ..sizes import human
from ..sources import Source
from ..states import FileState
from .backoff import Cancelled
from .offhub import dropped_marker, manifest_path, tree_name


def recorded_etag(remote: RemoteFile, digest: str) -> str:
    """The etag a finished file is recorded with: a first download of a part with no published checksum is pinned
    by its sha256 (``sha256:…``); any other keeps its own."""
    return f"sha256:{digest}" if remote.etag.startswith("tofu:") else remote.etag


def keep_origin(rp: RepoPlan, source: Source) -> None:
    """The source's publisher, licence, citation and each chosen part's URL and checksum, for the inventories."""
    assert rp.listing is not None and rp.urls is not None
    parts = [{"path": f.path, "url": rp.urls[f.path], "checksum": _checksum(f.etag, source.checks == "none"),
              "size_bytes": f.size} for f in rp.listing.files]
    write_origin(rp.local_dir, {"id": source.id, "publisher": source.publisher, "homepage": source.homepage,
                                "licence": source.licence, "citation": source.citation, "profile": rp.profile,
                                "parts": parts})


def _checksum(etag: str, unpublished: bool) -> str:
    """What a part is checked against, as the inventories say it: a pin is never passed off as published."""
    kind, _, value = etag.partition(":")
    if kind == "tofu":
        return "none published (pinned at the first download)"
    return f"none published; pinned at the first download: {kind}:{value}" if unpublished else f"{kind}:{value}"


def pin(rp: RepoPlan, pins: dict[str, str], dropped: set[str] | frozenset[str] = frozenset()) -> None:
    """Write the repo's record again with the sha256s its first downloads pinned, and without the archives dropped
    once extracted (their trees are checked against their manifests), for verify and the next plan."""
    assert rp.listing is not None
    files = [RemoteFile(f.path, f.size, pins.get(f.path, f.blob_id), f.sha256) for f in rp.listing.files]
    kept = [f for f in rp.files.remote if f.path not in dropped]
    write_record(rp.local_dir, Record(Listing(rp.ref, rp.listing.commit, files), rp.include, rp.exclude,
                                      Paths(kept), rp.profile))


def extract_part(rp: RepoPlan, path: str, root: Path, min_free: int,
                 on_progress: Callable[[int, int], object], cancel: threading.Event) -> str | None:
    """Extract an archive part into its tree beside it; the one-line reason when it cannot be (the archive itself
    stays: it is what the publisher's checksum proves). None when the part is no archive, or once extracted."""
    if not is_archive(path):
        return None
    archive = rp.local_dir / path
    tree = archive.parent / tree_name(path)
    room = max(0, free_space(root) - min_free)
    try:
        extract(archive, tree, manifest_path(rp.local_dir, path), root, base=rp.local_dir,
                limits=Limits(max_bytes=room), on_progress=on_progress, cancel=cancel)
    except ArchiveError as e:
        return str(e)
    return None


class Arrivals:
    """A run's proven off-Hub parts: their pinned sha256s (written into each record once the run ends) and their
    extraction. ``emit(rp, fp, state, done, message=…)`` is the run's event sink."""

    def __init__(self, settings: Settings, emit: Callable[..., None], *, drop_archives: bool = False) -> None:
        self.settings, self.emit, self.drop_archives = settings, emit, drop_archives
        self.lock = threading.Lock()
        self.pins: dict[int, tuple[RepoPlan, dict[str, str]]] = {}
        self.dropped: dict[int, set[str]] = {}  # archives removed once extracted, by repo plan
        self.plans: dict[int, tuple[RepoPlan, dict[str, str]]] = {}

    def pinned(self, rp: RepoPlan, remote: RemoteFile, digest: str) -> str:
        """The etag a proven file is recorded with; a first download's pinned sha256 is kept for its record."""
        etag = recorded_etag(remote, digest)
        if etag != remote.etag:
            with self.lock:
                self.pins.setdefault(id(rp), (rp, {}))[1][remote.path] = etag
        return etag

    @staticmethod
    def here(paths: metadata.DownloadPaths, remote: RemoteFile) -> bool:
        """Whether the part is already whole and recorded (its etag, or the sha256 pinned for a ``tofu:`` one)."""
        meta = metadata.read_metadata(paths)
        if meta is None or not (meta.etag == remote.etag or
                                (remote.etag.startswith("tofu:") and meta.etag.startswith("sha256:"))):
            return False
        return metadata.is_fresh(paths, meta, meta.etag, remote.size)

    def pin_all(self) -> None:
        for key in set(self.pins) | set(self.dropped):
            rp, pins = self.pins.get(key) or self.plans[key]
            pin(rp, pins, self.dropped.get(key, set()))

    def arrived(self, rp: RepoPlan, fp: FilePlan, state: FileState,
                stop: threading.Event) -> tuple[FileState, str | None]:
        """A proven file: an off-Hub archive is extracted beside it (its row says so), then it is done."""
        if rp.urls is not None:
            def extracting(done: int, files: int) -> None:
                self.emit(rp, fp, FileState.EXTRACTING, min(done, fp.remote.size),
                          message=f"extracting: {files:,} files, {human(done)}")

            failed = extract_part(rp, fp.remote.path, self.settings.root, self.settings.min_free, extracting, stop)
            if failed is not None and stop.is_set():
                raise Cancelled()  # a cancel or a pause: the archive stays, its extraction starts again next time
            if failed is not None:
                self.emit(rp, fp, FileState.FAILED, fp.remote.size, message=failed)
                return FileState.FAILED, failed
            if self.drop_archives and is_archive(fp.remote.path):
                self._drop(rp, fp.remote)
        self.emit(rp, fp, state, fp.remote.size)
        return state, None

    def _drop(self, rp: RepoPlan, remote: RemoteFile) -> None:
        """``--drop-archives``: the archive goes once its tree is whole (the manifest says what it held); the
        marker keeps which archive it was, so the next plan neither fetches nor extracts it again."""
        paths = metadata.download_paths(rp.local_dir, remote.path)
        meta = metadata.read_metadata(paths)
        replace_bytes(dropped_marker(rp.local_dir, remote.path), (meta.etag if meta else remote.etag).encode())
        paths.file_path.unlink(missing_ok=True)
        with self.lock:
            self.dropped.setdefault(id(rp), set()).add(remote.path)
            self.plans[id(rp)] = (rp, {})
