"""The command palette offers every key's action by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = [
    ("Download the selection", "download", "Fetch the ticked repos (d)"),
    ("Verify downloaded files", "verify", "Hash files against the Hub's hashes (v)"),
    ("Export inventories and checksums", "export", "Write the JSON inventories and checksum files (e)"),
    ("Cancel downloads", "cancel", "Stop downloads, keep partial files (c)"),
    ("Add a Hub repo", "add_repo", "Add any model or dataset by id (n)"),
    ("Filter repos", "filter", "Filter the Select pane (/)"),
    ("Show Select", "pane('select')", "Pane 1"),
    ("Show Downloads", "pane('downloads')", "Pane 2"),
    ("Show Inventory", "pane('inventory')", "Pane 3"),
    ("Show Verify", "pane('verify')", "Pane 4"),
    ("Help", "help", "Keys and states (?)"),
    ("Quit", "quit", "Stop downloads, keep partial files, exit (q)"),
]


class MusicgenCommands(Provider):
    async def discover(self) -> Hits:
        for title, action, help_text in ACTIONS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
