"""The command palette: every key's action by name, made from the app's bindings (so it shows remapped keys)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .bindings import BINDINGS, current_keys


class MusicgenCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, str]]:
        """``(title, action, help)`` of each binding but the palette's own."""
        keys = current_keys(self.app)
        for b in BINDINGS:
            if b.id and b.id != "palette":
                yield b.tooltip, b.action, f"key: {keys[b.id]}"

    async def discover(self) -> Hits:
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
