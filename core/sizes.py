"""Byte sizes: parse ``100M``/``1.5G`` and print human sizes (humanize, binary units) and times left."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``100M`` -> 104857600 (binary units, as ``find -size`` and ``du`` use); raises ValueError."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use a number with an optional K, M, G or T, like 100M)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def compact(n: int) -> str:
    """A size as a setting spells it: ``100M``, ``20K``, ``0``; a size that is no whole unit, in bytes."""
    for unit in "PTGMK":
        scale = _UNITS[unit]
        if n and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def human(n: int) -> str:
    """A human size, e.g. ``1.2 GiB``."""
    import humanize

    return humanize.naturalsize(n, binary=True, format="%.1f")


def eta(remaining: int, bps: float) -> str:
    """The time ``remaining`` bytes take at ``bps``: ``42s``, ``3m05s``, ``1h20m``; ``?`` with no rate yet."""
    if remaining <= 0:
        return "-"
    if bps <= 0:
        return "?"
    s = int(remaining / bps + 0.999)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
