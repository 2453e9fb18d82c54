"""Modal screens: add a repo by id, confirm a download that may not fit, and the keys."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from core.repos import RepoRef
from core.sizes import compact, parse_size
from core.states import CheckStatus, FileState

from .bindings import KeyLine


class AddRepoScreen(ModalScreen[RepoRef | None]):
    """Ask for a Hub id and its type; returns the RepoRef, or None on Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="add-cancel"),
        Binding("enter", "submit", "Add", id="add-submit", priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Add a Hub repo: type org/name, Tab then arrows and space to choose the type,\n"
                        "Enter to add, Esc to cancel. (datasets/org/name works too.)")
            yield Input(placeholder="org/name", id="repo-id")
            with RadioSet(id="repo-type"):
                yield RadioButton("model", value=True, id="type-model")
                yield RadioButton("dataset", id="type-dataset")
            yield Static("", id="add-error")

    def action_submit(self) -> None:
        """Enter is a priority key: it is handled as it arrives, while a paste (or keys) read in the same burst may
        still wait in the field's queue. The id is read once the field has handled them."""
        self.query_one("#repo-id", Input).call_later(self._submit)

    def _submit(self) -> None:
        text = self.query_one("#repo-id", Input).value.strip()
        repo_type = "dataset" if self.query_one("#type-dataset", RadioButton).value else "model"
        if text.startswith("datasets/"):
            text, repo_type = text[len("datasets/"):], "dataset"
        try:
            self.dismiss(RepoRef(repo_type, text))  # type: ignore[arg-type]
        except ValueError as e:
            self.query_one("#add-error", Static).update(str(e))

    def action_cancel(self) -> None:
        self.dismiss(None)


class LimitScreen(ModalScreen[int | None]):
    """Ask for the service's bandwidth cap (``20M``, ``500K``, ``0`` for none); returns bytes a second, or None on
    Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="limit-cancel"),
        Binding("enter", "submit", "Set", id="limit-submit", priority=True),
    ]

    def __init__(self, now: int) -> None:
        super().__init__()
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Bandwidth cap for all of this root's downloads together: like 20M or 500K a second,\n"
                        "0 for none. Enter to set, Esc to cancel.")
            yield Input(value=compact(self.now) if self.now else "0", id="rate")
            yield Static("", id="limit-error")

    def action_submit(self) -> None:
        self.query_one("#rate", Input).call_later(self._submit)

    def _submit(self) -> None:
        try:
            self.dismiss(parse_size(self.query_one("#rate", Input).value.strip()))
        except ValueError as e:
            self.query_one("#limit-error", Static).update(str(e))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or Enter says yes, n or Escape says no."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y,enter", "answer(True)", "Yes", id="confirm-yes"),
                Binding("n,escape", "answer(False)", "No", id="confirm-no")]

    def __init__(self, question: str, answers: str = "[y] yes, download anyway    [n] no") -> None:
        super().__init__()
        self.question, self.answers = question, answers

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.question), id="confirm-text")
            yield Static(self.answers)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """The keys, made from the app's bindings as they are now, and what the states on screen mean."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def __init__(self, lines: list[KeyLine]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        keys = [f"  {line.keys:<8} {line.text}" for line in self.lines]
        legend = (f"[x] / [ ] ticked or not; {FileState.DONE.label}, {FileState.FAILED.label}, "
                  f"{CheckStatus.OK.label}, {CheckStatus.MISMATCH.label}.")
        text = "\n".join(["musicgen-tui keys", "", *keys, "", legend,
                          "Any key can be remapped by its id: MUSICGEN_KEYMAP in .env.",
                          "Errors are logged to musicgen-tui.log in the workspace root.",
                          "Esc or ? closes this help."])
        with Vertical(id="dialog"):
            yield Static(Text(text))

    def action_close(self) -> None:
        self.dismiss(None)


class EnvScreen(ModalScreen[None]):
    """The shell lines of ``musicgen-tui env`` for this root, to copy into a shell on the GPU box."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,E", "close", "Close", id="env-close")]

    def __init__(self, bash: list[str], fish: list[str]) -> None:
        super().__init__()
        self.bash, self.fish = bash, fish

    def compose(self) -> ComposeResult:
        text = "\n".join(["Loaders read this root offline after these lines (or: eval \"$(musicgen-tui env)\"):", "",
                          "bash, zsh:", *self.bash, "", "fish:", *self.fish, "",
                          "The views are being refreshed now. Esc closes this."])
        with Vertical(id="dialog"):
            yield Static(Text(text), id="env-lines")
            yield Static("", id="env-views")

    def views(self, summary: str) -> None:
        self.query_one("#env-views", Static).update(Text(summary))

    def action_close(self) -> None:
        self.dismiss(None)

