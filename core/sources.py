"""The catalog's off-Hub systems as data: each source's parts (a name, a URL, where it lands, its size where
known) and where each part's checksum comes from (``sources.toml`` says each one and cites it). Plain values and
their one strict reader: a bad entry of a user's catalog is one line naming it."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .remote import hash_algorithm, proves
from .safety import unsafe_reason

BUILTIN = Path(__file__).with_name("sources.toml")
Checks = Literal["published", "zenodo", "gcs", "none"]
ALGORITHMS = {"sha256": 64, "sha1": 40, "md5": 32, "sha256-prefix": 0}  # hex digits of each (a prefix: any)


class SourceError(ValueError):
    """A source entry that cannot be used: the message names it and the field."""


@dataclass(frozen=True)
class Checksum:
    """What a part's bytes must hash to: ``algorithm`` (sha256, sha1, md5, or sha256-prefix: the start of its
    sha256) and the hex ``value``; ``Checksum()`` (empty) when it is read at run time or there is none."""

    algorithm: str = ""
    value: str = ""

    @classmethod
    def parse(cls, text: str, where: str) -> Checksum:
        if not text:
            return cls()
        algorithm, _, value = text.partition(":")
        value = value.lower()
        digits = ALGORITHMS.get(algorithm)
        if digits is None or not value or any(c not in "0123456789abcdef" for c in value) or \
                (digits and len(value) != digits):
            raise SourceError(f"{where}: checksum {text!r} is not sha256:…, sha1:…, md5:… or sha256-prefix:… "
                              "with its hex digits")
        return cls(algorithm, value)

    def matches(self, digests: dict[str, str]) -> bool:
        """Whether the digests computed of the bytes (by algorithm) prove this checksum (``core.remote``'s rule,
        the one every download and verify applies)."""
        etag = str(self)
        return self.algorithm != "" and proves(etag, digests.get(hash_algorithm(etag), ""))

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}" if self.algorithm else "none"


@dataclass(frozen=True)
class Part:
    name: str
    url: str
    dest: str  # below the repo's folder
    checksum: Checksum = field(default_factory=Checksum)
    size: int | None = None


@dataclass(frozen=True)
class Source:
    id: str
    repo_type: Literal["model", "dataset"]
    publisher: str
    homepage: str
    licence: str
    citation: str
    checks: Checks
    parts: tuple[Part, ...]
    profiles: dict[str, tuple[str, ...]]
    default: str
    zenodo: int | None = None

    @property
    def short(self) -> str:
        """Who serves it, in a few words (``Zenodo 2552860``, ``Magenta``, ``FMA``)."""
        return self.publisher.split(" (")[0]

    def profile(self, asked: str | None) -> str:
        """The profile a download of this source uses: the one asked for when the source has it, else its default
        (``full``, every Hub repo's default, means the source's sensible default; ``all`` takes every part)."""
        return asked if asked in self.profiles else self.default

    def chosen(self, profile: str | None, names: list[str] | None = None) -> list[str]:
        """The part names (or, for a Zenodo record, the keys among ``names``) a profile takes, in order."""
        patterns = self.profiles[self.profile(profile)]
        pool = names if names is not None else [p.name for p in self.parts]
        return [n for n in pool if any(fnmatch.fnmatchcase(n, pat) for pat in patterns)]


def load_sources(extra: Path | None = None) -> dict[str, Source]:
    """The built-in sources, with a user's catalog file (``MUSICGEN_CATALOG``) merged over them by id."""
    sources = {s.id.lower(): s for s in _read(BUILTIN)}
    if extra is not None:
        sources.update({s.id.lower(): s for s in _read(extra)})
    return sources


def sources_or_builtin(catalog_file: str | None) -> dict[str, Source]:
    """``load_sources`` with ``MUSICGEN_CATALOG``'s file (a path, or none); the built-in sources alone when that
    file cannot be read (the planner says why, in the plan's notes)."""
    try:
        return load_sources(Path(catalog_file) if catalog_file else None)
    except SourceError:
        return load_sources()


def _read(path: Path) -> list[Source]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SourceError(f"{path}: {e}") from None
    entries = data.get("sources", [])
    if not isinstance(entries, list):
        raise SourceError(f"{path}: [[sources]] entries expected")
    return [_source(path, i, entry) for i, entry in enumerate(entries)]


def _text(entry: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise SourceError(f"{where}: {key} must be a string")
    return value


def _source(path: Path, i: int, e: Any) -> Source:
    if not isinstance(e, dict):
        raise SourceError(f"{path}: sources[{i}] is not a table")
    sid = _text(e, "id", f"{path}: sources[{i}]")
    where = f"{path}: source {sid}"
    repo_type = _text(e, "type", where)
    checks = _text(e, "checks", where, "published")
    if repo_type not in ("model", "dataset") or checks not in ("published", "zenodo", "gcs", "none"):
        raise SourceError(f"{where}: type must be model or dataset, checks published, zenodo, gcs or none")
    zenodo = e.get("zenodo")
    if checks == "zenodo" and (type(zenodo) is not int or zenodo <= 0):
        raise SourceError(f"{where}: checks = \"zenodo\" needs zenodo = <record id>")
    parts = tuple(_part(where, p, checks) for p in e.get("parts", []))
    profiles = e.get("profiles", {"all": ["*"]})
    if not isinstance(profiles, dict) or not all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                                                 for v in profiles.values()):
        raise SourceError(f"{where}: profiles must map a name to a list of part names")
    default = _text(e, "default", where, "all")
    if default not in profiles:
        raise SourceError(f"{where}: default profile {default!r} is not one of {', '.join(profiles)}")
    if checks != "zenodo" and not parts:
        raise SourceError(f"{where}: no parts")
    return Source(sid, repo_type, _text(e, "publisher", where, sid), _text(e, "homepage", where, ""),  # type: ignore[arg-type]
                  _text(e, "licence", where, ""), _text(e, "citation", where, ""), checks,  # type: ignore[arg-type]
                  parts, {k: tuple(v) for k, v in profiles.items()}, default, zenodo if checks == "zenodo" else None)


def _part(where: str, p: Any, checks: str) -> Part:
    if not isinstance(p, dict):
        raise SourceError(f"{where}: a part is not a table")
    name = _text(p, "name", where)
    url = _text(p, "url", f"{where}: part {name}")
    dest = _text(p, "dest", f"{where}: part {name}", name)
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise SourceError(f"{where}: part {name}: url must be http:// or https://")
    reason = unsafe_reason(dest)
    if reason is not None:
        raise SourceError(f"{where}: part {name}: dest {dest!r}: {reason}")
    checksum = Checksum.parse(_text(p, "checksum", f"{where}: part {name}", ""), f"{where}: part {name}")
    if checks == "published" and not checksum.algorithm:
        raise SourceError(f"{where}: part {name} has no checksum: give one, or say checks = \"none\"")
    size = p.get("size")
    if size is not None and (type(size) is not int or size < 0):
        raise SourceError(f"{where}: part {name}: size must be a whole number of bytes")
    return Part(name, url, dest, checksum, size)


def rewritten(url: str, endpoint: str | None) -> str:
    """``url`` with its scheme and host replaced by ``endpoint``'s (``MUSICGEN_SOURCES_ENDPOINT``: a lab's mirror
    or a test server), its path kept (prefixed by the endpoint's own path, if it has one)."""
    if not endpoint:
        return url
    base, u = urlsplit(endpoint), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + u.path, u.query, ""))
