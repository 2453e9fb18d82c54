"""The app's manners, apart from what it does: every toast is plain text with its control characters escaped
(messages carry remote names), and the palette lists our Quit only (it says what quitting leaves running)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen

from .format import lines_printable
from .ready import ReadyApp


class PlainApp(ReadyApp):
    """``ReadyApp`` with the manners above; ``MusicgenApp`` is the face."""

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own palette entries but its Quit: ours (from the bindings) says what quitting leaves running."""
        return (c for c in super().get_system_commands(screen) if c.title != "Quit")

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast as plain text with its control characters escaped: messages carry remote names."""
        super().notify(lines_printable(message), title=title, severity=severity, timeout=timeout, markup=markup)
