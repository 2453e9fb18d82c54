"""Choosing files by --include / --exclude globs, by huggingface_hub's rules (``filter_repo_objects``):
``fnmatchcase`` on the repo path, a pattern ending in ``/`` means everything below that folder, and a
backslash counts as ``/``. Written here so that the disk layer can read a record's patterns without
importing huggingface_hub; a test holds it to the library's function."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from .remote import RemoteFile


def _normalized(patterns: Sequence[str]) -> list[str]:
    out = [p.replace("\\", "/") for p in patterns]
    return [p + "*" if p.endswith("/") else p for p in out]


def select(files: Sequence[RemoteFile], include: Sequence[str] = (),
           exclude: Sequence[str] = ()) -> Sequence[RemoteFile]:
    """The files matching any ``include`` (all, as given, when both are empty) and no ``exclude``."""
    if not include and not exclude:
        return files
    allow, ignore = _normalized(include), _normalized(exclude)
    out = []
    for f in files:
        path = f.path.replace("\\", "/")
        if allow and not any(fnmatchcase(path, p) for p in allow):
            continue
        if any(fnmatchcase(path, p) for p in ignore):
            continue
        out.append(f)
    return out
