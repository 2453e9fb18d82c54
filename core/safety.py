"""Refusing listing entries that could write outside a repo folder or clash on disk."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

MAX_NAME_BYTES = 255


def unsafe_reason(path: str) -> str | None:
    """Why ``path`` may not be written below a repo folder, or None when it is safe."""
    if not path or "\0" in path or "\\" in path:
        return "empty name, NUL byte or backslash"
    parts = path.split("/")
    if ".." in parts or "." in parts or "" in parts:
        return "'..', '.' or empty path segment"
    if PurePosixPath(path).is_absolute() or any(PureWindowsPath(p).drive for p in parts):
        return "absolute path"
    if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        return f"a name longer than {MAX_NAME_BYTES} bytes"
    if parts[0] == ".cache" and len(parts) > 1 and parts[1] == "huggingface":
        return "collides with the download metadata folder"
    return None


def unsafe_entries(paths: list[str]) -> dict[str, str]:
    """Every unsafe path with its reason, including names that differ from an earlier one only by case."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for p in paths:
        reason = unsafe_reason(p)
        if reason is None:
            key = p.casefold()
            if key in seen:
                reason = f"differs only by case from {seen[key]!r}"
            else:
                seen[key] = p
        if reason is not None:
            out[p] = reason
    return out
