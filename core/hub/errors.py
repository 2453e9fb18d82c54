"""What a Hub or HTTP error means: whether it stops the whole repo, whether another try may help, and a
one-line, actionable message that never shows the token."""

from __future__ import annotations

import httpx2
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..errors import TOKEN_HELP, first_line, one_line, scrub

RETRY_AFTER_MAX = 60.0


def status_of(exc: BaseException) -> int | None:
    resp = getattr(exc, "response", None)
    return getattr(resp, "status_code", None)


def is_repo_level(exc: BaseException) -> bool:
    """Errors that every file of the repo would hit: retrying or moving to the next file is pointless."""
    if isinstance(exc, (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError)):
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


def retry_after(exc: BaseException) -> float | None:
    """The seconds a 429 or 503 asked us to wait (``Retry-After``), capped; None when it did not say."""
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        value = exc.response.headers.get("Retry-After", "")
        if value.isdigit():
            return min(float(value), RETRY_AFTER_MAX)
    return None


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
        msg = _http_message(exc)
    elif isinstance(exc, httpx2.TimeoutException):
        msg = "the server stopped sending (read timeout); retry later or raise MUSICGEN_READ_TIMEOUT"
    elif isinstance(exc, httpx2.TransportError):
        msg = f"connection failed: {type(exc).__name__}: {first_line(exc)}".rstrip(": ")
    else:
        return one_line(exc, token=token)
    return scrub(msg, token)


def _http_message(exc: HfHubHTTPError) -> str:
    status = status_of(exc)
    server = getattr(exc, "server_message", None) or ""
    if status == 401 and "Invalid credentials" in (server + str(exc)):
        return f"the token was refused (invalid or expired): {TOKEN_HELP}"
    if status in (401, 403):
        return f"access denied (HTTP {status}): {TOKEN_HELP}"
    return f"HTTP {status}" + (f": {server.splitlines()[0]}" if server else "")
