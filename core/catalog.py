"""The catalog: the seed's repos as data (``catalog.toml`` beside this module), extended or overridden by a
``catalog.toml`` in the workspace root. Knows aliases, dependencies and where data lives when the Hub lacks it."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from .repos import RepoRef, RepoType

DEFAULT_FILE = Path(__file__).with_name("catalog.toml")
USER_FILE = "catalog.toml"
TABLES: dict[str, RepoType] = {"models": "model", "datasets": "dataset"}
FIELDS = {"id", "group", "aliases", "depends", "audiocraft_depends", "licence", "description", "notes", "source",
          "hub_copies"}
LIST_FIELDS = {"aliases", "depends", "audiocraft_depends", "hub_copies"}
LOADS_WITH_AUDIOCRAFT = ("audiocraft", "full")  # the profiles whose files audiocraft's loader reads


class CatalogError(ValueError):
    """A bad catalog file: the message names the file and the line."""


@dataclass(frozen=True)
class Dependency:
    """A repo another one needs, and the profile to take it with (None: the planner's default for dependencies)."""

    repo_id: str
    profile: str | None = None

    @classmethod
    def parse(cls, text: str) -> Dependency:
        """``org/name`` or ``org/name:profile``; raises ValueError on a bad id."""
        repo_id, _, profile = text.partition(":")
        RepoRef("model", repo_id)
        return cls(repo_id, profile or None)


@dataclass(frozen=True)
class CatalogEntry:
    ref: RepoRef
    group: str = ""
    aliases: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    audiocraft_depends: tuple[str, ...] = ()
    licence: str = ""
    description: str = ""
    notes: str = ""
    source: str = ""
    hub_copies: tuple[str, ...] = ()
    origin: str = field(default="default", compare=False)

    @property
    def repo_id(self) -> str:
        return self.ref.repo_id

    def dependencies(self, profile: str) -> list[Dependency]:
        """What a repo planned with ``profile`` cannot be used without: its ``depends``, and with a profile
        audiocraft loads from, what audiocraft's loader reaches (``audiocraft_depends``)."""
        named = self.depends + (self.audiocraft_depends if profile in LOADS_WITH_AUDIOCRAFT else ())
        return [Dependency.parse(d) for d in named]

    def elsewhere(self) -> str | None:
        """Where the data really lives, for a repo the endpoint does not have; None when nobody told us."""
        if not self.source and not self.hub_copies:
            return None
        parts = []
        if self.source:
            parts.append(f"it lives elsewhere: {self.source}")
        if self.hub_copies:
            parts.append("Hub copies: " + ", ".join(self.hub_copies))
        return "; ".join(parts)


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]

    def refs(self, repo_type: str | None = None) -> list[RepoRef]:
        return [e.ref for e in self.entries if repo_type is None or e.ref.repo_type == repo_type]

    def find(self, ref: RepoRef) -> CatalogEntry | None:
        """The entry for ``ref`` by id or alias, ignoring case as the Hub does."""
        key = ref.repo_id.lower()
        for e in self.entries:
            if e.ref.repo_type == ref.repo_type and (e.repo_id.lower() == key
                                                     or key in (a.lower() for a in e.aliases)):
                return e
        return None

    def canonical(self, ref: RepoRef) -> RepoRef:
        """The catalog's spelling of ``ref`` (``google/musiccaps`` -> ``google/MusicCaps``), else ``ref``."""
        entry = self.find(ref)
        return entry.ref if entry is not None else ref


def _line_of(text: str, table: str, index: int, key: str | None = None) -> int:
    """The line of the ``index``-th ``[[table]]`` header (or of ``key`` inside that entry)."""
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]")
    starts = [i for i, ln in enumerate(lines) if header.match(ln)]
    if index >= len(starts):
        return 1
    start = starts[index]
    if key is not None:
        nxt = re.compile(r"^\s*\[")
        for i in range(start + 1, len(lines)):
            if nxt.match(lines[i]):
                break
            if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
                return i + 1
    return start + 1


def _parse(path: Path, origin: str) -> list[CatalogEntry]:
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogError(f"{path}: {e}") from None
    entries = []
    for name in data:
        if name not in TABLES:
            line = next((i + 1 for i, ln in enumerate(text.splitlines()) if name in ln), 1)
            raise CatalogError(f"{path}:{line}: unknown table {name!r} (use [[models]] or [[datasets]])")
    for table, repo_type in TABLES.items():
        items = data.get(table, [])
        if not isinstance(items, list):
            raise CatalogError(f"{path}: {table} must be written as [[{table}]] entries")
        for i, raw in enumerate(items):
            def where(key: str | None, t: str = table, n: int = i) -> str:
                return f"{path}:{_line_of(text, t, n, key)}"

            entries.append(_entry(raw, repo_type, origin, where))
    return entries


def _entry(raw: dict[str, Any], repo_type: RepoType, origin: str, where: Any) -> CatalogEntry:
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise CatalogError(f"{where(unknown[0])}: unknown field {unknown[0]!r} (known: {', '.join(sorted(FIELDS))})")
    if "id" not in raw:
        raise CatalogError(f"{where(None)}: an entry needs an id")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CatalogError(f"{where(key)}: {key} must be a list of strings")
            values[key] = tuple(value)
        elif not isinstance(value, str):
            raise CatalogError(f"{where(key)}: {key} must be a string")
        else:
            values[key] = value
    try:
        ref = RepoRef(repo_type, values.pop("id"))
        for dep in values.get("depends", ()) + values.get("audiocraft_depends", ()):
            Dependency.parse(dep)
    except ValueError as e:
        raise CatalogError(f"{where('id')}: {e}") from None
    return CatalogEntry(ref=ref, origin=origin, **values)


def merge(base: list[CatalogEntry], extra: list[CatalogEntry]) -> tuple[CatalogEntry, ...]:
    """``extra`` entries override those with the same id (their fields win), new ones are appended."""
    out = list(base)
    index = Catalog(tuple(out))
    for e in extra:
        old = index.find(e.ref)
        if old is None:
            out.append(e)
            continue
        fields = {k: getattr(e, k) for k in FIELDS - {"id"} if getattr(e, k)}
        out[out.index(old)] = replace(old, **fields, origin=e.origin)
        index = Catalog(tuple(out))
    return tuple(out)


@cache
def default_catalog() -> Catalog:
    return Catalog(tuple(_parse(DEFAULT_FILE, "default")))


def load_catalog(root: Path | None = None) -> Catalog:
    """The default catalog, merged with ``<root>/catalog.toml`` when there is one; raises CatalogError."""
    base = default_catalog()
    user = root / USER_FILE if root is not None else None
    if user is None or not user.is_file():
        return base
    return Catalog(merge(list(base.entries), _parse(user, str(user))))


def catalog() -> tuple[RepoRef, ...]:
    """The default catalog's repos, models first, in order."""
    return tuple(default_catalog().refs())
