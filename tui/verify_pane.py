"""Pane 4, Verify: a live view while files are hashed; problems on top, the summary stays on screen."""

from __future__ import annotations

from collections.abc import Container

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from core.local.verify import FileCheck, Queued, VerifyResult
from core.runtime.smoke import SmokeCheck, SmokeResult
from core.states import PROBLEMS, CheckStatus

from .bindings import key_of
from .format import plain, styled
from .live_table import LiveTable

# Problems first (worst first), then what is still hashing, then OK; by the label the RESULT column shows.
RANK = {s.label: i for i, s in enumerate((*PROBLEMS, CheckStatus.HASHING, CheckStatus.OK))}
RowKey = tuple[str, str, str]  # (repo_type, repo_id, path)
STYLES = {CheckStatus.OK: "green", CheckStatus.HASHING: "", CheckStatus.EXTRA: "yellow"}  # else: a problem


class VerifyPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(f"press {key_of(self.app, 'verify')} to verify what is downloaded (the selection if any, "
                     "else everything)", id="verify-summary")
        yield ProgressBar(id="verify-progress", show_eta=False)
        table = LiveTable(id="verify-table", cursor_type="row")
        for label, key, width in (("RESULT", "status", 12), ("REPO", "repo", 26), ("FILE", "path", 30),
                                  ("DETAIL", "detail", 40)):
            table.add_column(label, key=key, width=width)
        yield table

    def on_mount(self) -> None:
        self.status: dict[RowKey, CheckStatus] = {}

    @property
    def table(self) -> LiveTable:
        return self.query_one("#verify-table", LiveTable)

    def start(self) -> None:
        self.status.clear()
        self.table.clear()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#verify-summary", Static).update("verifying…")

    def queued(self, files: list[Queued]) -> None:
        for repo_id, repo_type, path in files:
            self._set(FileCheck(CheckStatus.HASHING, repo_id, repo_type, path))
        self.query_one(ProgressBar).update(total=len(self.status))
        self._summary()

    def apply(self, checks: list[FileCheck]) -> None:
        resort = False
        for c in checks:
            resort |= self._set(c) and c.status is not CheckStatus.OK
        done = sum(1 for s in self.status.values() if s is not CheckStatus.HASHING)
        self.query_one(ProgressBar).update(progress=done)
        if resort:
            self._sort()
        self._summary()

    def finish(self, result: VerifyResult, report: str, unavailable: Container[tuple[str, str]] = ()) -> None:
        """The verdict; it promises a download only for the problems a download can mend (not those of repos this
        endpoint does not have)."""
        c = result.counts
        if not c["checked"]:
            self.query_one("#verify-summary", Static).update("nothing to verify yet: no downloads in this root")
            return
        elsewhere = sum(1 for p in result.problems if (p.repo_type, p.repo_id) in unavailable)
        fetchable = len(result.problems) - elsewhere
        d = key_of(self.app, "download")
        verdict = "all files match the Hub's hashes ✓" if result.ok else \
            f"PROBLEMS FOUND ✗ ({d} fetches them again)" if not elsewhere else \
            f"PROBLEMS FOUND ✗ ({elsewhere} not available on this endpoint: {d} cannot fetch them)" if not fetchable \
            else f"PROBLEMS FOUND ✗ ({d} fetches {fetchable} again; {elsewhere} not available on this endpoint)"
        self.query_one(ProgressBar).update(total=max(1, c["checked"]), progress=max(1, c["checked"]))
        self.query_one("#verify-summary", Static).update(
            f"{verdict} · {c['ok']} OK · {c['mismatch']} mismatch · {c['missing']} missing · "
            f"{c['partial']} partial · report: {report}")
        self._sort()

    def _set(self, c: FileCheck) -> bool:
        """Show one check; True when it is a new row or a changed status."""
        key = (c.repo_type, c.repo_id, c.path)
        style = STYLES.get(c.status, "bold red")
        cells = (styled(c.status.label, style), plain(c.repo_id), plain(c.path), plain(c.detail))
        rk = "\0".join(key)
        changed = self.status.get(key) is not c.status
        if key not in self.status:
            self.table.add_row(*cells, key=rk)
        else:
            for col, value in zip(("status", "repo", "path", "detail"), cells, strict=True):
                self.table.set_cell(rk, col, value)
        self.status[key] = c.status
        return changed

    def _sort(self) -> None:
        status = self.status
        self.table.order_by(lambda key: RANK.get(status[_row_key(key)].label, 9), "status",
                            lambda label: RANK.get(Text.from_markup(str(label)).plain, 9))

    def _summary(self) -> None:
        counts = {s: 0 for s in CheckStatus}
        for s in self.status.values():
            counts[s] += 1
        self.query_one("#verify-summary", Static).update(
            f"verifying… {counts[CheckStatus.OK]} OK · {counts[CheckStatus.MISMATCH]} mismatch · "
            f"{counts[CheckStatus.MISSING]} missing · {counts[CheckStatus.PARTIAL]} partial · "
            f"{counts[CheckStatus.HASHING]} to hash")


    def smoke_start(self, repo_id: str) -> None:
        self.start()
        self.query_one("#verify-summary", Static).update(f"smoke check of {plain(repo_id)}…")

    def smoke_check(self, c: SmokeCheck) -> None:
        """One finding: its check in the FILE column, with the file it names; the mend in the detail."""
        label, style = {True: ("ok", "green"), False: ("FAIL", "bold red"), None: ("skipped", "")}[c.ok]
        took = f" ({c.seconds:.1f} s, peak {c.peak_bytes / 1e6:,.0f} MB)" if c.seconds and c.peak_bytes else ""
        mend = f" -> {c.mend}" if c.mend and c.ok is False else ""
        what = c.check + (f": {c.path}" if c.path else "")
        self.table.add_row(styled(label, style), plain(c.repo_id), plain(what), plain(c.detail + took + mend))

    def smoke_finish(self, result: SmokeResult) -> None:
        ready = "; ".join(f"{plain(r)}: ready offline for {', '.join(k for k, v in ls.items() if not v) or 'nothing'}"
                          for r, ls in result.ready.items())
        verdict = "ready ✓" if result.ok else f"PROBLEMS FOUND ✗ ({len(result.problems)})"
        runtime = f" · {result.runtime}" if result.runtime else ""
        self.query_one(ProgressBar).update(total=1, progress=1)
        self.query_one("#verify-summary", Static).update(f"smoke: {verdict} · {ready}{runtime}")


def _row_key(key: str) -> RowKey:
    repo_type, repo_id, path = key.split("\0")
    return repo_type, repo_id, path
