"""Refusing listing entries that could write outside a repo folder or clash on disk."""

from __future__ import annotations

import string
from collections.abc import Iterable

MAX_NAME_BYTES = 255
# The longest name the tool makes from a file's own: its download record's temp file, ``<name>.metadata.tmp``
# (the partial downloads are named by hashes, whatever the name).
LONGEST_SUFFIX = ".metadata.tmp"
MAX_FILE_NAME = MAX_NAME_BYTES - len(LONGEST_SUFFIX)
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
    if len(path) > MAX_FILE_NAME // 4:
        if any(len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts[:-1]):
            return f"a folder name longer than {MAX_NAME_BYTES} bytes"
        if len(parts[-1].encode("utf-8", "surrogatepass")) > MAX_FILE_NAME:
            return (f"a file name longer than {MAX_FILE_NAME} bytes: its download record "
                    f"('…{LONGEST_SUFFIX}') would pass the file system's {MAX_NAME_BYTES}-byte limit")
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


def _escape(code: int) -> str:
    named = {9: "\\t", 10: "\\n", 13: "\\r"}
    return named.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


# C0 and C1 controls, DEL, and the characters that reorder or break what follows them on a line (bidi embeddings,
# overrides and isolates, the marks, the line and paragraph separators).
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
             *range(0x2066, 0x206A)]
_PRINTABLE = {c: _escape(c) for c in _CONTROLS}


def printable(text: str) -> str:
    """``text`` for a person's screen or a log: every control character (ESC, CR, LF, the other C0 and C1 codes)
    and bidi override written as an escape (``\\x1b``, ``\\n``, ``\\u202e``), so a remote name can neither move
    the cursor nor rewrite or reorder the screen. JSON keeps the exact name."""
    return text if text.isprintable() else text.translate(_PRINTABLE)
