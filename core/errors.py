"""One-line, actionable messages for everything that can go wrong talking to the Hub or the disk."""

from __future__ import annotations

import errno

import httpx2
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

TOKEN_HELP = "put HF_TOKEN=<your token> in .env or run `hf auth login`"


class RepoError(Exception):
    """A failure that stops a whole repo (not found, gated, token refused); carries a one-line message."""


def status_of(exc: BaseException) -> int | None:
    resp = getattr(exc, "response", None)
    return getattr(resp, "status_code", None)


def is_repo_level(exc: BaseException) -> bool:
    """Errors that every file of the repo would hit: retrying or moving to the next file is pointless."""
    if isinstance(exc, (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError, RepoError)):
        return True
    return isinstance(exc, HfHubHTTPError) and status_of(exc) in (401, 403)


def is_transient(exc: BaseException) -> bool:
    """Errors worth another try: network drops, timeouts, 429 and 5xx, a body cut short."""
    if isinstance(exc, (httpx2.TransportError, httpx2.TimeoutException)):
        return True
    if isinstance(exc, HfHubHTTPError):
        status = status_of(exc)
        return status is not None and (status == 429 or status == 408 or status >= 500)
    return isinstance(exc, OSError) and "Consistency check failed" in str(exc)


def describe(exc: BaseException, *, token: str | None = None) -> str:
    """A one-line message for ``exc``; never contains the token."""
    if isinstance(exc, GatedRepoError):
        msg = f"gated repo: needs a token with access ({TOKEN_HELP}) and the repo's terms accepted on the Hub"
    elif isinstance(exc, RevisionNotFoundError):
        msg = "revision not found on this endpoint"
    elif isinstance(exc, RemoteEntryNotFoundError):
        msg = "file not found on this endpoint"
    elif isinstance(exc, RepositoryNotFoundError):
        msg = "repo not found on this endpoint (check the id and whether it is a model or a dataset)"
    elif isinstance(exc, HfHubHTTPError):
        status = status_of(exc)
        server = getattr(exc, "server_message", None) or ""
        if status == 401 and "Invalid credentials" in (server + str(exc)):
            msg = f"the token was refused (invalid or expired): {TOKEN_HELP}"
        elif status in (401, 403):
            msg = f"access denied (HTTP {status}): {TOKEN_HELP}"
        else:
            msg = f"HTTP {status}" + (f": {server.splitlines()[0]}" if server else "")
    elif isinstance(exc, httpx2.TimeoutException):
        msg = "the server stopped sending (read timeout); retry later or raise MUSICGEN_READ_TIMEOUT"
    elif isinstance(exc, httpx2.TransportError):
        msg = f"connection failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    elif isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        msg = f"disk full at {exc.filename or 'the target'}: free some space, then run again (partial files are kept)"
    elif isinstance(exc, (RepoError, OSError)):
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    else:
        msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return scrub(msg, token)


def scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
