"""Pane 4, Verify: a live view while files are hashed; problems on top, the summary stays on screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, ProgressBar, Static

from core.verify import FileCheck, VerifyResult

from .format import CHECK_LABELS

RANK = {"MISMATCH": 0, "PARTIAL": 1, "MISSING": 2, "HASHING": 3, "OK": 4}


class VerifyPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("press v to verify what is downloaded (the selection if any, else everything)",
                     id="verify-summary")
        yield ProgressBar(id="verify-progress", show_eta=False)
        table = DataTable[object](id="verify-table", cursor_type="row")
        for label, key, width in (("RESULT", "status", 12), ("REPO", "repo", 26), ("FILE", "path", 30),
                                  ("DETAIL", "detail", 40)):
            table.add_column(label, key=key, width=width)
        yield table

    def on_mount(self) -> None:
        self.status: dict[tuple[str, str], str] = {}

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#verify-table", DataTable)

    def start(self) -> None:
        self.status.clear()
        self.table.clear()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#verify-summary", Static).update("verifying…")

    def queued(self, files: list[tuple[str, str, str]]) -> None:
        for repo_id, _repo_type, path in files:
            self._set(FileCheck("HASHING", repo_id, _repo_type, path))  # type: ignore[arg-type]
        self.query_one(ProgressBar).update(total=len(files))
        self._summary()

    def apply(self, checks: list[FileCheck]) -> None:
        resort = False
        for c in checks:
            resort |= self._set(c) and c.status != "OK"
        self.query_one(ProgressBar).update(progress=sum(1 for s in self.status.values() if s != "HASHING"))
        if resort:
            self._sort()
        self._summary()

    def finish(self, result: VerifyResult, report: str) -> None:
        c = result.counts
        if not c["checked"]:
            self.query_one("#verify-summary", Static).update("nothing to verify yet: no downloads in this root")
            return
        verdict = "all files match the Hub's hashes ✓" if result.ok else "PROBLEMS FOUND ✗ (d fetches them again)"
        self.query_one(ProgressBar).update(total=max(1, c["checked"]), progress=max(1, c["checked"]))
        self.query_one("#verify-summary", Static).update(
            f"{verdict} · {c['ok']} OK · {c['mismatch']} mismatch · {c['missing']} missing · "
            f"{c['partial']} partial · report: {report}")
        self._sort()

    def _set(self, c: FileCheck) -> bool:
        """Show one check; True when it is a new row or a changed status."""
        key = (c.repo_id, c.path)
        style = "green" if c.status == "OK" else "" if c.status == "HASHING" else "bold red"
        cells = (Text(CHECK_LABELS.get(c.status, c.status), style=style), c.repo_id, c.path, c.detail)
        rk = f"{c.repo_id}\0{c.path}"
        changed = self.status.get(key) != c.status
        if key not in self.status:
            self.table.add_row(*cells, key=rk)
        else:
            for col, value in zip(("status", "repo", "path", "detail"), cells, strict=True):
                self.table.update_cell(rk, col, value)
        self.status[key] = c.status
        return changed

    def _sort(self) -> None:
        status = self.status
        self.table.sort("repo", "path", key=lambda cells: RANK.get(status.get((str(cells[0]), str(cells[1])), ""), 9))

    def _summary(self) -> None:
        counts = {k: sum(1 for s in self.status.values() if s == k) for k in RANK}
        self.query_one("#verify-summary", Static).update(
            f"verifying… {counts['OK']} OK · {counts['MISMATCH']} mismatch · {counts['MISSING']} missing · "
            f"{counts['PARTIAL']} partial · {counts['HASHING']} to hash")
