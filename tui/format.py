"""Text for the panes: sizes, rates, ETAs and progress bars that read without colour (state labels are
``core.states``)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.markup import escape

from core.safety import printable
from core.sizes import eta as eta  # the panes' ETAs are the CLI's
from core.sizes import human

BAR_WIDTH = 10


def size(n: int | None) -> str:
    return "…" if n is None else human(n)


def rate(bps: float) -> str:
    """Two or three significant digits: a rate that wobbles by a few bytes does not redraw its cell."""
    if bps <= 0:
        return "-"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if bps >= scale:
            v = bps / scale
            return f"{v:.1f} {unit}/s" if v < 10 else f"{v:.0f} {unit}/s"
    return f"{bps:.0f} B/s"


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``█████░░░░░  50%``: a bar and the percentage, legible with or without colour."""
    frac = 1.0 if total <= 0 else min(done / total, 1.0)
    filled = int(frac * width)
    return "█" * filled + "░" * (width - filled) + f" {int(frac * 100):3d}%"


def short_sha(sha: str | None) -> str:
    return sha[:8] if sha else "-"


def plain(text: str) -> str:
    """A table cell showing ``text`` as it is: DataTable reads a string cell as markup, so a file named
    ``a[/]b.wav`` stopped the pane (a markup error) and ``[bold]x.wav`` showed as ``x.wav``. (Rich's escape
    doubles a final backslash for a tag that may follow; none follows here.)"""
    text = printable(text)  # a name's control characters never reach the terminal
    out = escape(text)
    return out[:-1] if text.endswith("\\") and not text.endswith("\\\\") else out


def lines_printable(text: str) -> str:
    """Several lines, each with its control characters escaped (the line breaks between them are kept)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` terminal cells, shortened in the middle (``data/par…/00123.wav``): the start
    says where a file is, the end which one it is."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    room = width - 1
    head: list[str] = []
    tail: list[str] = []
    used = 0
    left, right = 0, len(text) - 1
    while left <= right:  # a character from each end in turn, while it fits
        for side in (1, 0):  # the end first: it names the file
            if left > right:
                break
            ch = text[left] if side == 0 else text[right]
            w = cell_len(ch)
            if used + w > room:
                return "".join(head) + "…" + "".join(reversed(tail))
            used += w
            if side == 0:
                head.append(ch)
                left += 1
            else:
                tail.append(ch)
                right -= 1
    return "".join(head) + "…" + "".join(reversed(tail))


def styled(text: str, style: str) -> str:
    """A cell of one of the app's labels in ``style``, as a string: no Rich object kept per row for the GC."""
    return f"[{style}]{escape(printable(text))}[/]" if style else plain(text)
