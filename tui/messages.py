"""Messages the thread workers post to the app. Progress arrives in coalesced batches."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from core.download import FileEvent, RunResult
from core.inventory import LocalRepo
from core.plan import Plan, RepoPlan
from core.verify import FileCheck, VerifyResult


class RepoPlanned(Message):
    """One repo's plan is known (size, status), for the Select pane."""

    def __init__(self, plan: RepoPlan) -> None:
        super().__init__()
        self.plan = plan


class LocalScanned(Message):
    """What the root holds now, one entry per local repo folder."""

    def __init__(self, repos: list[LocalRepo]) -> None:
        super().__init__()
        self.repos = repos


class DownloadPlanned(Message):
    """The plan for the selection is ready; the app checks disk space and starts the download."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan


class DownloadProgress(Message):
    """The latest event of every file that moved since the last batch."""

    def __init__(self, events: list[FileEvent]) -> None:
        super().__init__()
        self.events = events


class DownloadFinished(Message):
    def __init__(self, result: RunResult | None, error: str | None = None) -> None:
        super().__init__()
        self.result, self.error = result, error


class VerifyQueued(Message):
    """Files about to be hashed: ``(repo_id, repo_type, path)``."""

    def __init__(self, files: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.files = files


class VerifyProgress(Message):
    def __init__(self, checks: list[FileCheck]) -> None:
        super().__init__()
        self.checks = checks


class VerifyFinished(Message):
    def __init__(self, result: VerifyResult, report: Path) -> None:
        super().__init__()
        self.result, self.report = result, report


class Exported(Message):
    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths
