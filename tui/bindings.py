"""The app's keys, declared once: the footer, the help screen and the command palette are all made from these
bindings, and a user remaps any of them by its id with ``MUSICGEN_KEYMAP`` (Textual's keymap)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from core.profiles import PROFILES

if TYPE_CHECKING:
    from textual.app import App

PANES = Binding.Group("Show a pane")

BINDINGS: list[Binding] = [
    Binding("space", "tick", "Tick", id="toggle", tooltip="Tick or untick the highlighted repo"),
    Binding("d", "download", "Download", id="download",
            tooltip="Download the ticked repos (asks only if disk space is short)"),
    Binding("v", "verify", "Verify", id="verify", tooltip="Verify what is downloaded: the ticked repos, else all"),
    Binding("e", "export", "Export", id="export", tooltip="Export the JSON inventories and the checksum files"),
    Binding("s", "smoke", "Smoke", id="smoke", show=False,
            tooltip="Smoke-check the highlighted model: files, structure, views, real loads (Verify pane)"),
    Binding("E", "env", "Env", id="env", show=False,
            tooltip="Show the shell lines that make the loaders read this root, offline"),
    Binding("u", "update", "Update", id="update", show=False,
            tooltip="Update the ticked repos that are behind the Hub: only what changed is fetched"),
    Binding("x", "remove", "Remove", id="remove", show=False,
            tooltip="Remove the highlighted repo, after saying what it frees"),
    Binding("k", "lock", "Lock", id="lock", show=False,
            tooltip="Write musicgen.lock: every repo's commit and verified files, once a verify finds no problem"),
    Binding("c", "cancel", "Cancel", id="cancel", tooltip="Cancel downloads; partial files are kept for resume"),
    Binding("z", "pause(False)", "Pause", id="pause", show=False,
            tooltip="Pause/resume the highlighted file's repo (Downloads pane)"),
    Binding("Z", "pause(True)", "Pause all", id="pause-all", show=False,
            tooltip="Pause/resume every download (kept across restarts)"),
    Binding("plus", "priority('first')", "First", id="first", show=False,
            tooltip="Move the highlighted file's repo to the front of the queue"),
    Binding("minus", "priority('last')", "Last", id="last", show=False,
            tooltip="Move the highlighted file's repo to the back of the queue"),
    Binding("L", "limit", "Limit", id="limit", show=False,
            tooltip="Cap the bandwidth of all downloads together (0: no cap)"),
    Binding("1", "pane('select')", "Select", id="pane-select", show=False, group=PANES,
            tooltip="Show the Select pane: the catalog"),
    Binding("2", "pane('downloads')", "Downloads", id="pane-downloads", show=False, group=PANES,
            tooltip="Show the Downloads pane: every file"),
    Binding("3", "pane('inventory')", "Inventory", id="pane-inventory", show=False, group=PANES,
            tooltip="Show the Inventory pane: what is on disk"),
    Binding("4", "pane('verify')", "Verify", id="pane-verify", show=False, group=PANES,
            tooltip="Show the Verify pane: hashes, live"),
    Binding("slash", "filter", "Filter", id="filter", show=False, tooltip="Filter the repos by name"),
    Binding("n", "add_repo", "Add repo", id="add-repo", show=False, tooltip="Add any Hub repo by id"),
    Binding("p", "profile", "Profile", id="profile", show=False,
            tooltip=f"Cycle profiles: {', '.join(PROFILES)}, or a source's"),
    Binding("r", "refresh", "Refresh", id="refresh", show=False,
            tooltip="List every repo on the Hub again (new commits, access granted)"),
    Binding("question_mark", "help", "Help", id="help", tooltip="Show these keys"),
    Binding("ctrl+p", "command_palette", "Palette", id="palette", show=False, priority=True,
            tooltip="Open the command palette: every action by name"),
    Binding("q", "quit", "Quit", id="quit", tooltip="Quit the app: downloads go on in the root's download service"),
]
IDS = [b.id for b in BINDINGS if b.id]


@dataclass(frozen=True)
class KeyLine:
    """One line of the help: the keys as the footer shows them, and what they do. A group of bindings (the
    panes) makes one line."""

    keys: str
    text: str
    bindings: tuple[Binding, ...]


def parse_keymap(text: str) -> tuple[dict[str, str], list[str]]:
    """``MUSICGEN_KEYMAP``: ``id=keys`` entries separated by spaces or ``;``, keys as Textual names them (several
    keys for one id separated by commas), e.g. ``download=ctrl+d verify=V quit=q,ctrl+q``. Returns the keymap
    and a one-line message for each entry that was left out."""
    keymap: dict[str, str] = {}
    errors: list[str] = []
    for entry in text.replace(";", " ").split():
        binding_id, eq, keys = entry.partition("=")
        if not eq or not keys.strip(","):
            errors.append(f"MUSICGEN_KEYMAP: {entry!r} is not id=key")
        elif binding_id not in IDS:
            errors.append(f"MUSICGEN_KEYMAP: no key has the id {binding_id!r} (ids: {', '.join(IDS)})")
        else:
            keymap[binding_id] = keys
    return keymap, errors + _clashes(keymap)


def _clashes(keymap: dict[str, str]) -> list[str]:
    """Refuse a remapping that gives one key to two actions: each such entry is left out (its action keeps its
    own key), with one line naming both actions."""
    errors: list[str] = []
    while True:
        owner: dict[str, str] = {}
        clash = None
        for b in BINDINGS:
            if not b.id:
                continue
            for key in (k.strip() for k in keymap.get(b.id, b.key).split(",")):
                if key in owner and (b.id in keymap or owner[key] in keymap):
                    clash = (key, owner[key], b.id)
                    break
                owner.setdefault(key, b.id)
            if clash:
                break
        if clash is None:
            return errors
        key, first, second = clash
        errors.append(f"MUSICGEN_KEYMAP: {key!r} would do both {first} and {second}; "
                      f"left out {', '.join(f'{i}={keymap[i]}' for i in (first, second) if i in keymap)}")
        for i in (first, second):
            keymap.pop(i, None)


def current_keys(app: App[Any]) -> dict[str, str]:
    """Each binding id's keys as the footer shows them now: the keymap the app was given (``MusicgenApp.keymap``)
    over the keys declared here."""
    keymap: Mapping[str, str] = getattr(app, "keymap", {})
    return {b.id: " ".join(app.get_key_display(b.with_key(k.strip())) for k in keymap.get(b.id, b.key).split(","))
            for b in BINDINGS if b.id}


def key_lines(app: App[Any]) -> list[KeyLine]:
    """The app's keys as they are now, in the order they are declared; a group of bindings makes one line."""
    now = current_keys(app)
    lines: list[KeyLine] = []
    for b in BINDINGS:
        keys = now.get(b.id or "", "")
        last = lines[-1] if lines else None
        if b.group is not None and last is not None and last.bindings[-1].group is b.group:
            names = " · ".join(x.description for x in (*last.bindings, b))
            lines[-1] = KeyLine(f"{last.keys} {keys}", f"{b.group.description}: {names}", (*last.bindings, b))
        else:
            lines.append(KeyLine(keys, b.tooltip, (b,)))
    return lines


def key_of(app: App[Any], binding_id: str) -> str:
    """The keys of one binding now, for a hint in a pane (``d``, or what the keymap made of it)."""
    return current_keys(app)[binding_id]
