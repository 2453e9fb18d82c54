"""Modal screens: add a repo by id, confirm a download that may not fit, and the key help."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from core.repos import RepoRef


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


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or Enter says yes, n or Escape says no."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y,enter", "answer(True)", "Yes", id="confirm-yes"),
                Binding("n,escape", "answer(False)", "No", id="confirm-no")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question)
            yield Static("[y] yes, download anyway    [n] no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


HELP = """\
musicgen-tui keys

  1 2 3 4  Select · Downloads · Inventory · Verify
  space    tick or untick the highlighted repo
  /        filter the repos;  n  add any Hub repo by id
  d        download the ticked repos (asks only if space is short)
  v        verify downloads (the ticked repos, else everything)
  e        export the JSON inventories and checksum files
  c        cancel downloads (partial files are kept for resume)
  ctrl+p   command palette: every action by name
  q        quit (downloads stop, partial files are kept)

[x] / [ ] ticked or not; done ✓, FAILED ✗, OK ✓, MISMATCH ✗.
Errors are logged to musicgen-tui.log in the workspace root.
Esc or ? closes this help."""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(HELP))

    def action_close(self) -> None:
        self.dismiss(None)
