"""What the Hub lists for a repo: plain data, importable without huggingface_hub (so headless commands start fast)."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

from .repos import RepoRef

SEP = "\0"  # joins a run's names and hashes: the one character no path can hold
RUN = 4096  # files a run holds at most: a flat folder of 300,000 files is packed as it is listed


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file as the Hub lists it: ``sha256`` for an LFS file, else ``blob_id`` (git's sha1 of the file); the one
    set is the hash the Hub serves as the ETag and ``verify`` checks."""

    path: str
    size: int
    blob_id: str
    sha256: str | None = None

    @property
    def etag(self) -> str:
        """The hash the Hub serves as the file's ETag, and the one ``verify`` checks."""
        return self.sha256 or self.blob_id

    @property
    def algorithm(self) -> str:
        """The hash its bytes are hashed with to check them (``hash_algorithm`` of its etag)."""
        return "sha256" if self.sha256 else hash_algorithm(self.blob_id)


# An off-Hub file's etag says which hash proves it: ``md5:<hex>`` (Zenodo, GCS), ``sha1:<hex>`` (FMA's README),
# ``sha256:<hex>`` (published, or pinned at a first download), ``sha256-prefix:<hex>`` (the start of its sha256,
# torch.hub's rule for demucs' weights) or ``tofu:<key>`` (nothing published: any bytes pass the first time, and
# their sha256 is pinned). A Hub file's etag is bare hex: 64 digits a sha256, else git's blob sha1.
PREFIXED = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha256-prefix": "sha256", "tofu": "sha256"}


def hash_algorithm(etag: str) -> str:
    """The hashlib algorithm (or ``git-sha1``) whose hex digest ``proves`` checks against ``etag``."""
    kind, colon, _ = etag.partition(":")
    if colon:
        return PREFIXED.get(kind, "sha256")
    return "sha256" if len(etag) == 64 else "git-sha1"


def proves(etag: str, digest: str) -> bool:
    """Whether bytes whose ``hash_algorithm(etag)`` hex digest is ``digest`` are the file ``etag`` names."""
    kind, colon, value = etag.partition(":")
    if not colon:
        return digest == etag
    if kind == "sha256-prefix":
        return bool(value) and digest.startswith(value)
    if kind == "tofu":
        return True  # nothing to check it against: the caller pins what arrived
    return digest == value


def shown_hash(etag: str) -> str:
    """An etag for a person: its kind and its first digits."""
    kind, colon, value = etag.partition(":")
    if not colon:
        return f"{hash_algorithm(etag)} {etag[:12]}…"
    return "no published checksum" if kind == "tofu" else f"{kind} {value[:12]}…"


_T = TypeVar("_T")


class Packed(Sequence[_T]):
    """A sequence that makes its items as they are read: equal to a list or tuple of the same items."""

    __slots__ = ()

    def _item(self, i: int) -> _T:
        """The item at ``i``, where 0 <= i < len(self)."""
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> _T: ...
    @overload
    def __getitem__(self, i: slice) -> list[_T]: ...

    def __getitem__(self, i: int | slice) -> _T | list[_T]:
        if isinstance(i, slice):
            return [self._item(k) for k in range(*i.indices(len(self)))]
        k = i + len(self) if i < 0 else i
        if not 0 <= k < len(self):
            raise IndexError("index out of range")
        return self._item(k)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Packed, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


# A run of files in one folder: (prefix "" or "a/b/", names joined by SEP, sizes, blob ids joined, sha256s joined)
Run = tuple[str, str, array, str, str]


class RemoteFiles(Packed[RemoteFile]):
    """Files packed in runs of one folder, five objects a run and none a file: 100,000 listed files hold about
    9 MB here, against 30 MB as ``RemoteFile`` objects. Iterating makes each ``RemoteFile`` as it is reached.
    Appends go to an open run, sealed when the folder changes, at ``RUN`` files, or on the first read."""

    __slots__ = ("_last", "_len", "_open", "_runs", "_starts", "ordered")

    def __init__(self, files: Iterable[RemoteFile] = ()) -> None:
        self._runs: list[Run] = []
        self._starts: list[int] = []  # index of each run's first file
        self._open: tuple[str, list[str], array, list[str], list[str]] | None = None
        self._len = 0
        self._last = ""
        self.ordered = True  # every path so far sorts after the one before it
        for f in files:
            self.append(f)

    def append(self, f: RemoteFile) -> None:
        path = f.path
        if path < self._last:
            self.ordered = False
        self._last = path
        prefix, slash, name = path.rpartition("/")
        prefix += slash
        run = self._open
        if run is None or run[0] != prefix or len(run[1]) >= RUN:
            self._seal()
            run = self._open = (prefix, [], array("q"), [], [])
            self._starts.append(self._len)
        run[1].append(name)
        run[2].append(f.size)
        run[3].append(f.blob_id)
        run[4].append(f.sha256 or "")
        self._len += 1

    def _seal(self) -> None:
        if self._open is not None:
            prefix, names, sizes, blobs, shas = self._open
            self._runs.append((prefix, SEP.join(names), sizes, SEP.join(blobs), SEP.join(shas)))
            self._open = None

    def runs(self) -> Iterator[tuple[str, list[str], array, list[str]]]:
        """``(prefix, names, sizes, etags)`` of each run in order, unpacked one at a time (a folder can come in
        more than one run)."""
        self._seal()
        for prefix, names, sizes, blobs, shas in self._runs:
            etags = [h or b for b, h in zip(blobs.split(SEP), shas.split(SEP), strict=True)]
            yield prefix, names.split(SEP), sizes, etags

    def __iter__(self) -> Iterator[RemoteFile]:
        self._seal()
        for prefix, names, sizes, blobs, shas in self._runs:
            for n, s, b, h in zip(names.split(SEP), sizes, blobs.split(SEP), shas.split(SEP), strict=True):
                yield RemoteFile(prefix + n, s, b, h or None)

    def __len__(self) -> int:
        return self._len

    def _item(self, i: int) -> RemoteFile:
        self._seal()
        k = bisect_right(self._starts, i) - 1
        prefix, names, sizes, blobs, shas = self._runs[k]
        j = i - self._starts[k]
        sha = shas.split(SEP)[j]
        return RemoteFile(prefix + names.split(SEP)[j], sizes[j], blobs.split(SEP)[j], sha or None)

    def __repr__(self) -> str:
        return f"RemoteFiles({len(self)} files in {len(self._runs) + (self._open is not None)} runs)"

    def find(self, path: str) -> RemoteFile | None:
        """The file at ``path``, looking only in the runs of its folder."""
        prefix, slash, name = path.rpartition("/")
        self._seal()
        for k, (p, names, _, _, _) in enumerate(self._runs):
            if p == prefix + slash and name in (listed := names.split(SEP)):
                return self._item(self._starts[k] + listed.index(name))
        return None

    def sorted(self) -> RemoteFiles:
        """The files in path order: itself when they came in order (the Hub lists a tree sorted)."""
        return self if self.ordered else RemoteFiles(sorted(self, key=lambda f: f.path))


class Paths:
    """The paths of some files, read again on each pass: two passes over 100,000 files hold no list of paths."""

    __slots__ = ("files",)

    def __init__(self, files: Iterable[RemoteFile]) -> None:
        self.files = files

    def __iter__(self) -> Iterator[str]:
        return (f.path for f in self.files)


@dataclass(frozen=True)
class Listing:
    """A repo's files at one commit (packed: any sequence given is kept as ``RemoteFiles``)."""

    ref: RepoRef
    commit: str
    files: Sequence[RemoteFile]
    gated: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.files, RemoteFiles):
            object.__setattr__(self, "files", RemoteFiles(self.files))
