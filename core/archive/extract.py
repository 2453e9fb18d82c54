"""Extract a verified archive into a tree below a repo's folder: streamed (a member at a time, never the whole
archive in memory), hashed as it is written, and staged, so an interrupted extraction never leaves a tree that
reads complete.

The tree is written to a hidden staging folder beside it, the manifest (one sha256sum line per file) to a temp
file; only when every member is in does the staging folder become the tree, and then the manifest lands. A tree
with no manifest is not complete: the next extraction starts it again. Members are checked before a byte is
written (``members``): no absolute path, no ``..``, no device or FIFO, no link leading out; a link that stays
inside is made once every file is in, so no member is ever written through a link. A bomb is stopped at the
cap: ``Limits.max_bytes`` (what the disk check allowed) and ``max_ratio`` times the archive's size, counted as
bytes are written, never from a member's declared size. A ``.tar.gz`` is decompressed by ``gzip -dc`` in its own
process where there is one: the other core unpacks while this one writes and hashes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..local.checksums import format_line
from ..local.safeio import PlantedLink, create_temp, make_dirs
from ..safety import printable
from .members import ArchiveError, hardlink_target, link_target, member_path, special

CHUNK = 1 << 20
PROGRESS_EVERY = 0.2


@dataclass(frozen=True)
class Limits:
    """The most an archive may extract: ``max_bytes`` in all, ``max_ratio`` times its own size, ``max_members``."""

    max_bytes: int = 1 << 62
    max_ratio: float = 1000.0
    max_members: int = 5_000_000


@dataclass(frozen=True)
class Extracted:
    tree: Path
    manifest: Path
    files: int
    bytes: int


class Stopped(ArchiveError):
    """The extraction was cancelled: nothing of it is left."""


@dataclass
class _Entry:
    kind: str  # "file", "dir", "symlink", "hardlink"
    path: str
    reader: Callable[[], IO[bytes]] | None = None
    target: str = ""


def archive_kind(name: str) -> str:
    """``tar.gz``, ``tar`` (any tar, tarfile reads its compression), or ``zip``; else an ``ArchiveError``."""
    lower = name.lower()
    if lower.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if lower.endswith((".tar", ".tar.bz2", ".tar.xz", ".tbz2", ".txz")):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    raise ArchiveError(f"{printable(name)}: not an archive this tool extracts (tar, tar.gz, zip)")


def is_archive(name: str) -> bool:
    try:
        archive_kind(name)
    except ArchiveError:
        return False
    return True


def extract(archive: Path, tree: Path, manifest: Path, root: Path, *, base: Path | None = None,
            limits: Limits = Limits(), on_progress: Callable[[int, int], object] | None = None,
            cancel: threading.Event | None = None) -> Extracted:
    """Extract ``archive`` into ``tree`` (replacing a tree already there only once the new one is whole) and write
    ``manifest`` (paths relative to ``base``, by default ``tree``'s parent: ``sha256sum -c`` runs from there).
    ``on_progress(bytes, files)`` hears the progress at most every 0.2 s. Raises ``ArchiveError`` naming the
    archive and the member."""
    kind = archive_kind(archive.name)
    ratio_cap = int(limits.max_ratio * max(archive.stat().st_size, 1))
    with contextlib.suppress(FileNotFoundError):
        manifest.unlink()  # from now on the old tree does not read complete
    make_dirs(tree.parent, root)
    make_dirs(manifest.parent, root)
    staging = tree.parent / f".{tree.name}.extracting"
    _remove(staging)  # what a killed extraction left
    os.mkdir(staging, 0o700)  # nobody else plants anything in it while it fills
    fd, listing = create_temp(manifest)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as lines:
            top = tree.relative_to(base or tree.parent).as_posix()
            writer = _Writer(archive.name, staging, top, lines, (limits.max_bytes, ratio_cap),
                             limits.max_members, on_progress, cancel)
            try:
                with _entries(archive, kind) as entries:
                    for entry in entries:
                        writer.add(entry)
            except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as e:  # read while written
                raise ArchiveError(f"{archive.name}: damaged or truncated: {e}") from None
            writer.links()
            lines.flush()
            os.fsync(lines.fileno())
        os.chmod(staging, 0o755)
        _swap(staging, tree)
        os.replace(listing, manifest)
    except BaseException:
        listing.unlink(missing_ok=True)
        _remove(staging)
        raise
    return Extracted(tree, manifest, writer.files, writer.bytes)


class _Writer:
    """Writes the entries below the staging folder, hashing each file as it is written."""

    def __init__(self, archive: str, staging: Path, top: str, lines: IO[str], caps: tuple[int, int],
                 max_members: int, on_progress: Callable[[int, int], object] | None,
                 cancel: threading.Event | None) -> None:
        self.archive, self.staging, self.top, self.lines = archive, staging, top, lines
        (self.space, self.ratio_cap), self.cap = caps, min(caps)
        self.max_members, self.on_progress, self.cancel = max_members, on_progress, cancel
        self.files = self.bytes = self.members = 0
        self.deferred: list[_Entry] = []
        self.made: set[str] = {""}
        self.said = 0.0

    def add(self, entry: _Entry) -> None:
        if not entry.path and entry.kind != "dir":
            raise ArchiveError(f"{self.archive}: refusing a member with no name")
        self.members += 1
        if self.members > self.max_members:
            raise ArchiveError(f"{self.archive}: more than {self.max_members} members: refused as a bomb")
        if self.cancel is not None and self.cancel.is_set():
            raise Stopped(f"{self.archive}: extraction stopped")
        if entry.kind == "dir":
            self._folder(entry.path)
        elif entry.kind == "file":
            assert entry.reader is not None
            self._file(entry.path, entry.reader)
        else:
            self.deferred.append(entry)

    def _folder(self, path: str) -> None:
        if path not in self.made:
            make_dirs(self.staging / path, self.staging)
            self.made.add(path)

    def _file(self, path: str, reader: Callable[[], IO[bytes]]) -> None:
        self._folder(path.rpartition("/")[0])
        try:
            fd = os.open(self.staging / path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644)
        except FileExistsError:
            raise ArchiveError(f"{self.archive}: refusing member {printable(path)!r}: it appears twice, or "
                               "differs only in case from another on this file system") from None
        h = hashlib.sha256()
        with os.fdopen(fd, "wb", buffering=0) as out, reader() as src:
            while chunk := src.read(CHUNK):
                self.bytes += len(chunk)
                if self.bytes > self.cap:
                    raise self._over(path)
                out.write(chunk)
                h.update(chunk)
                self._progress()
        self.files += 1
        self.lines.write(format_line(h.hexdigest(), f"{self.top}/{path}"))

    def _over(self, path: str) -> ArchiveError:
        if self.bytes > self.ratio_cap:
            return ArchiveError(f"{self.archive}: refusing member {printable(path)!r}: the archive unpacks to more "
                                f"than {self.ratio_cap} bytes, far more than one of its size holds: refused as a bomb")
        return ArchiveError(f"{self.archive}: stopped at member {printable(path)!r}: it unpacks to more than "
                            f"{self.space} bytes, the space it may take (free space less MUSICGEN_MIN_FREE)")

    def _progress(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Stopped(f"{self.archive}: extraction stopped")
        now = time.monotonic()
        if self.on_progress is not None and now - self.said >= PROGRESS_EVERY:
            self.said = now
            self.on_progress(self.bytes, self.files)

    def links(self) -> None:
        """The links, once every file is in: a symbolic link as it is (it stays inside), a hard link to a file
        of the tree (listed in the manifest with that file's hash)."""
        for entry in self.deferred:
            self._folder(entry.path.rpartition("/")[0])
            where = self.staging / entry.path
            if entry.kind == "symlink":
                os.symlink(entry.target, where)
                continue
            source = self.staging / entry.target
            st = os.lstat(source) if os.path.lexists(source) else None
            if st is None or not stat.S_ISREG(st.st_mode):
                raise ArchiveError(f"{self.archive}: refusing member {printable(entry.path)!r}: a hard link to "
                                   f"{printable(entry.target)!r}, which is no file of the archive")
            os.link(source, where, follow_symlinks=False)
            h = hashlib.sha256()
            with open(source, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
            self.files += 1
            self.lines.write(format_line(h.hexdigest(), f"{self.top}/{entry.path}"))
        if self.on_progress is not None:
            self.on_progress(self.bytes, self.files)


@contextlib.contextmanager
def _entries(archive: Path, kind: str) -> Iterator[Iterator[_Entry]]:
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            yield _zip_entries(archive.name, zf)
        return
    gunzip = shutil.which("gzip") if kind == "tar.gz" else None
    if gunzip is None:
        with tarfile.open(archive, mode="r|*") as tf:
            yield _tar_entries(archive.name, tf)
        return
    proc = subprocess.Popen([gunzip, "-dc", "--", str(archive)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    finished = False
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            yield _tar_entries(archive.name, tf)
        trailing = 0  # the tar's end is read: what gzip still sends is padding, read to its end so gzip checks its
        while chunk := proc.stdout.read(CHUNK):  # CRC; more than the archive's own size is no padding
            trailing += len(chunk)
            if trailing > archive.stat().st_size:
                raise ArchiveError(f"{archive.name}: more data after the end of the tar than the archive holds")
        finished = True
    finally:
        if not finished:
            proc.kill()  # stopped early (an error, a cancel): gzip goes too
        proc.stdout.close()
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise ArchiveError(f"{archive.name}: damaged: {err.decode(errors='replace').strip()[-200:]}")


def _tar_entries(archive: str, tf: tarfile.TarFile) -> Iterator[_Entry]:
    try:
        for m in tf:
            path = member_path(archive, m.name)
            if m.isdir():
                yield _Entry("dir", path)
            elif m.isreg():
                yield _Entry("file", path, _tar_reader(tf, m))
            elif m.issym():
                yield _Entry("symlink", path, target=link_target(archive, path, m.linkname))
            elif m.islnk():
                yield _Entry("hardlink", path, target=hardlink_target(archive, path, m.linkname))
            else:
                raise special(archive, path, "device, FIFO or other special file")
    except (tarfile.TarError, EOFError) as e:
        raise ArchiveError(f"{archive}: damaged or truncated: {e}") from None


def _tar_reader(tf: tarfile.TarFile, m: tarfile.TarInfo) -> Callable[[], IO[bytes]]:
    def reader() -> IO[bytes]:
        f = tf.extractfile(m)
        assert f is not None
        return f

    return reader


def _zip_entries(archive: str, zf: zipfile.ZipFile) -> Iterator[_Entry]:
    try:
        for info in zf.infolist():
            path = member_path(archive, info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                yield _Entry("dir", path)
            elif stat.S_ISLNK(mode):
                target = zf.read(info, pwd=None)[:4096].decode("utf-8", "replace")
                yield _Entry("symlink", path, target=link_target(archive, path, target))
            elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # a type given, and not a file's
                raise special(archive, path, "device, FIFO or other special file")
            else:
                yield _Entry("file", path, lambda info=info: zf.open(info))  # type: ignore[misc]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise ArchiveError(f"{archive}: damaged or truncated: {e}") from None


def _swap(staging: Path, tree: Path) -> None:
    """The staging folder becomes the tree; a tree already there (an earlier extraction) goes once it has."""
    try:
        st = os.lstat(tree)
    except FileNotFoundError:
        os.rename(staging, tree)
        return
    if stat.S_ISLNK(st.st_mode):
        raise PlantedLink(tree)
    old = tree.parent / f".{tree.name}.old-{os.getpid()}"
    os.rename(tree, old)
    os.rename(staging, tree)
    _remove(old)


def _remove(folder: Path) -> None:
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        folder.unlink()  # a link or file planted where a staging folder goes: the link goes, never its target
        return
    shutil.rmtree(folder)
