"""Choosing files by --include / --exclude globs (huggingface_hub's own matching rules)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .remote import RemoteFile


def select(files: Iterable[RemoteFile], include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[RemoteFile]:
    """The files matching any ``include`` (all when empty) and no ``exclude``."""
    if not include and not exclude:
        return list(files)
    from huggingface_hub.utils import filter_repo_objects

    return list(filter_repo_objects(files, allow_patterns=list(include) or None,
                                    ignore_patterns=list(exclude) or None, key=lambda f: f.path))
