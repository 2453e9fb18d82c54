"""Every state a thing can be in, each named once and used by the CLI, the app and the JSON outputs.

The value is what JSON carries; ``label`` is what a person reads: plain words, and a glyph where the state
is a verdict, so it reads the same without colour.
"""

from __future__ import annotations

from enum import StrEnum


class FileState(StrEnum):
    """A file of a download run."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"  # hashing what arrived (or a file already on disk) against the Hub's hash
    EXTRACTING = "extracting"  # an off-Hub archive, verified, being unpacked beside itself
    DONE = "done"
    SKIPPED = "skipped"  # already on disk with the Hub's hash: nothing fetched
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped by a cancel (of its run, its repo or itself): what arrived is kept for resume
    PAUSED = "paused"  # held by a pause: what arrived is kept, no connection is open, a resume goes on from it

    @property
    def label(self) -> str:
        return _FILE_LABELS[self]

    @property
    def ended(self) -> bool:
        """Whether nothing more happens to the file in this run."""
        return self in (FileState.DONE, FileState.SKIPPED, FileState.FAILED, FileState.CANCELLED)

    @property
    def active(self) -> bool:
        return self in (FileState.DOWNLOADING, FileState.VERIFYING, FileState.EXTRACTING)

    @property
    def finished(self) -> bool:
        return self in (FileState.DONE, FileState.SKIPPED)


_FILE_LABELS = {FileState.QUEUED: "queued", FileState.DOWNLOADING: "downloading", FileState.VERIFYING: "hashing",
                FileState.EXTRACTING: "extracting",
                FileState.DONE: "done ✓", FileState.SKIPPED: "present ✓", FileState.FAILED: "FAILED ✗",
                FileState.CANCELLED: "cancelled", FileState.PAUSED: "paused ‖"}


class CheckStatus(StrEnum):
    """A file's verdict in a verification. ``HASHING`` is a file still being hashed (never in a report)."""

    OK = "OK"
    MISMATCH = "MISMATCH"
    MISSING = "MISSING"
    PARTIAL = "PARTIAL"
    HASHING = "HASHING"
    EXTRA = "EXTRA"  # on disk, not in the recorded listing: said, never a problem unless asked (``--strict``)

    @property
    def label(self) -> str:
        return _CHECK_LABELS[self]


_CHECK_LABELS = {CheckStatus.OK: "OK ✓", CheckStatus.MISMATCH: "MISMATCH ✗", CheckStatus.MISSING: "MISSING ✗",
                 CheckStatus.PARTIAL: "PARTIAL ✗", CheckStatus.HASHING: "hashing…",
                 CheckStatus.EXTRA: "extra ·"}
PROBLEMS = (CheckStatus.MISMATCH, CheckStatus.PARTIAL, CheckStatus.MISSING)  # worst first


class RepoStatus(StrEnum):
    """A repo in a plan: what the endpoint said of it."""

    AVAILABLE = "available"
    COMPLETE = "complete"
    GATED = "gated"
    NOT_ON_ENDPOINT = "not on endpoint"
    ERROR = "error"
    NO_REVISION = "revision not served"  # the revision asked for (a lock's commit) is not on the endpoint

    @property
    def ok(self) -> bool:
        """Whether the repo can be downloaded (or already is)."""
        return self in (RepoStatus.AVAILABLE, RepoStatus.COMPLETE)

    @property
    def label(self) -> str:
        return _REPO_LABELS[self][0]

    @property
    def short(self) -> str:
        """The label in a narrow column."""
        return _REPO_LABELS[self][1]


_REPO_LABELS = {RepoStatus.AVAILABLE: ("available", "available"),
                RepoStatus.COMPLETE: ("already complete", "complete"),
                RepoStatus.GATED: ("needs a token", "needs token"),
                RepoStatus.NOT_ON_ENDPOINT: ("not on this endpoint", "not on hub"),
                RepoStatus.ERROR: ("error", "error"),
                RepoStatus.NO_REVISION: ("revision not served", "no revision")}


# The three ways a gated repo refuses us, as messages say them and as a narrow column shows them.
GATED_CASES = (("needs a token", "needs token"), ("no access", "no access"), ("awaiting approval", "pending"))


def gated_short(message: str | None) -> str:
    """The narrow label of a gated repo's message: which of the three cases it is."""
    for phrase, short in GATED_CASES:
        if phrase in (message or ""):
            return short
    return RepoStatus.GATED.short


class LocalState(StrEnum):
    """A repo's folder in the workspace, as the app last saw it."""

    ABSENT = "absent"
    PARTIAL = "partial"
    COMPLETE = "complete"
    VERIFIED = "verified"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value
