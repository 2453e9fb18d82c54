"""Refusing listing entries that could write outside a repo folder or clash on disk."""

from __future__ import annotations

import string
from collections.abc import Iterable

MAX_NAME_BYTES = 255
DRIVE_LETTERS = frozenset(string.ascii_letters)


def unsafe_reason(path: str) -> str | None:
    """Why ``path`` may not be written below a repo folder, or None when it is safe."""
    if not path or "\0" in path or "\\" in path:
        return "empty name, NUL byte or backslash"
    parts = path.split("/")
    if ".." in parts or "." in parts or "" in parts:
        return "'..', '.' or empty path segment"
    if ":" in path and any(len(p) > 1 and p[1] == ":" and p[0] in DRIVE_LETTERS for p in parts):
        return "absolute path"  # a Windows drive ("C:"), as pathlib.PureWindowsPath reads it
    if len(path) > MAX_NAME_BYTES // 4 and any(len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts):
        return f"a name longer than {MAX_NAME_BYTES} bytes"
    if parts[0] == ".cache" and len(parts) > 1 and parts[1] == "huggingface":
        return "collides with the download metadata folder"
    return None


def unsafe_entries(paths: Iterable[str]) -> dict[str, str]:
    """Every unsafe path with its reason, including names that differ from an earlier one only by case.

    Two passes over ``paths`` (read twice when it can be, e.g. ``remote.Paths``): the first notes the folded
    form of each name that changes when folded, since a clash needs one such name; the second remembers only
    the paths with those forms. A listing of lowercase names keeps nothing per file."""
    if iter(paths) is paths:  # a one-shot iterator: read it once into a list
        paths = list(paths)
    folds = {f for p in paths if (f := p.casefold()) != p}
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for p in paths:
        reason = unsafe_reason(p)
        if reason is None and folds:
            key = p.casefold()
            if key in folds:
                if key in seen:
                    reason = f"differs only by case from {seen[key]!r}"
                else:
                    seen[key] = p
        if reason is not None:
            out[p] = reason
    return out
