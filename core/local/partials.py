"""Partial downloads on disk, as the disk, sizes, the plan and verify see them: a single stream's ``.incomplete``
file (its length is what arrived), and a segmented one (``….segmented.incomplete``, written at each range's
offset, with its progress record ``….segmented.json``: the bytes it counts are what arrived); and handing the
one to the other (``to_single``), or dropping it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .damaged import DAMAGED, unreadable
from .safeio import open_update

STATE_VERSION = 2
Entry = tuple[int, int, int, int]  # a range: start, end (exclusive), bytes written, bytes flushed to disk


def boot_id() -> str:
    """This boot of the machine: the page cache, and every byte written to it, lasts as long as it does."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def segmented_paths(incomplete: Path) -> tuple[Path, Path]:
    """The partial file of a segmented download and its progress, beside the single stream's partial (they never
    share a file: a single stream resumes from its partial's length, which a segmented one does not have)."""
    stem = incomplete.name.removesuffix(".incomplete")
    return incomplete.with_name(f"{stem}.segmented.incomplete"), incomplete.with_name(f"{stem}.segmented.json")


def read_record(state: Path) -> tuple[dict[str, Any], list[Entry], bool] | None:
    """A segmented partial's progress: the record, its ranges, and whether the bytes written may be trusted (the
    machine has not restarted since: the page cache kept them through a kill; else only those flushed count).
    None when there is none; a damaged one is said once and read as absent."""
    try:
        saved = json.loads(state.read_text())
        if not isinstance(saved, dict):
            raise TypeError("not a JSON object")
        entries = [(int(a), int(b), int(w), int(d)) for a, b, w, d in saved["ranges"]]
    except DAMAGED as e:
        unreadable(state, e)
        return None
    boot = boot_id()
    return saved, entries, bool(boot) and saved.get("boot") == boot


def segmented_bytes(incomplete: Path, size: int, etag: str) -> int:
    """The bytes a segmented partial of this file version holds (0 when there is none, or one of another
    version or a damaged record)."""
    data, state = segmented_paths(incomplete)
    if not data.exists():
        return 0
    read = read_record(state)
    if read is None:
        return 0
    saved, entries, trusted = read
    if saved.get("size") != size or saved.get("etag") != etag:
        return 0
    return sum(max(0, min(w if trusted else d, b - a)) for a, b, w, d in entries)


def contiguous_prefix(state: Path) -> int:
    """The bytes from the start of a segmented partial that arrived without a gap (what a single stream can
    continue from)."""
    read = read_record(state)
    if read is None:
        return 0
    _saved, entries, trusted = read
    prefix = 0
    for a, b, w, d in entries:
        done = w if trusted else d
        prefix = a + done
        if a + done < b:
            break
    return prefix


def to_single(incomplete: Path) -> None:
    """A segmented partial handed to a single stream (segments turned off, or a server that ignores Range): its
    contiguous first bytes become the stream's partial; the rest, which a stream cannot resume, is dropped."""
    data, state = segmented_paths(incomplete)
    if not data.exists():
        return
    prefix = contiguous_prefix(state)
    if prefix and not incomplete.exists():
        with open_update(data) as fh:
            fh.truncate(min(prefix, os.path.getsize(data)))
        os.replace(data, incomplete)
    data.unlink(missing_ok=True)
    state.unlink(missing_ok=True)


def drop_segmented(incomplete: Path) -> None:
    """Forget a segmented partial (its hash did not match: every range is fetched again)."""
    for path in segmented_paths(incomplete):
        path.unlink(missing_ok=True)


def exact_size(finished: Path, size: int) -> bool:
    """Whether the partial, its first ``size`` bytes hashed, is that long: bytes past them (a longer partial of a
    segmented run) were never hashed and are cut off; a shorter one is no whole file."""
    with open_update(finished) as fh:
        end = fh.seek(0, os.SEEK_END)
        if end > size:
            fh.truncate(size)
            end = size
    return end == size
