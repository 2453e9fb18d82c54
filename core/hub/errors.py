"""What a Hub or HTTP error means: whether it stops the whole repo, whether another try may help, how long the
server asked us to wait, and a one-line, actionable message that never shows the token.

A request that failed on another origin than the endpoint went to the CDN a ``resolve`` redirected to: its 403
(a signed URL that expired) or 5xx concerns that one link, so it is worth a new ``resolve``, never the repo's end.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx2
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import parse_ratelimit_headers

from ..errors import TOKEN_HELP, first_line, one_line, scrub
from ..states import GATED_CASES


class AnswerTooLarge(Exception):
    """An API answer larger, once decompressed, than any real one: a broken or hostile endpoint. Never retried."""

    def __init__(self, url: str, limit: int) -> None:
        super().__init__(f"the endpoint's answer to {urlsplit(url).path} is over {limit >> 20} MiB once "
                         "decompressed: refused (a broken or hostile endpoint or mirror)")


RETRY_AFTER_MAX = 300.0  # the Hub's rate-limit window: never wait longer than one
_VISIT = re.compile(r"Visit (\S+?) to ask for access")


def status_of(exc: BaseException) -> int | None:
    resp = getattr(exc, "response", None)
    return getattr(resp, "status_code", None)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def failed_url(exc: BaseException) -> str | None:
    """The URL of the request that failed (after redirects), when the error carries one."""
    try:  # httpx2's ``.request`` raises RuntimeError, not AttributeError, when none is attached
        request = getattr(getattr(exc, "response", None), "request", None) or getattr(exc, "request", None)
        return str(request.url) if request is not None else None
    except RuntimeError:
        return None


def off_endpoint(exc: BaseException, endpoint: str | None) -> bool:
    """Whether the failed request went to another origin than the endpoint (the CDN of a redirect)."""
    url = failed_url(exc)
    return endpoint is not None and url is not None and _origin(url) != _origin(endpoint)


def is_repo_level(exc: BaseException, endpoint: str | None = None) -> bool:
    """Errors that every file of the repo would hit: retrying or moving to the next file is pointless."""
    if off_endpoint(exc, endpoint):
        return False
    if isinstance(exc, (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError)):
        return True
    return isinstance(exc, HfHubHTTPError) and status_of(exc) in (401, 403)


def is_transient(exc: BaseException, endpoint: str | None = None) -> bool:
    """Errors worth another try: network drops, timeouts, a garbled body, 429 and 5xx, a body cut short, and
    the CDN refusing a link (a new ``resolve`` gives a new one)."""
    if isinstance(exc, (httpx2.TransportError, httpx2.TimeoutException, httpx2.DecodingError)):
        return True
    if isinstance(exc, HfHubHTTPError):
        status = status_of(exc)
        if off_endpoint(exc, endpoint) and status in (401, 403, 404, 410):
            return True
        return status is not None and (status == 429 or status == 408 or status >= 500)
    return isinstance(exc, OSError) and "Consistency check failed" in str(exc)


def retry_after(exc: BaseException) -> float | None:
    """The seconds the server asked us to wait: ``Retry-After``, or the Hub's ``RateLimit`` header (``t=``)
    when no call is left in its window; capped; None when it did not say."""
    response = getattr(exc, "response", None)
    if not isinstance(exc, HfHubHTTPError) or response is None:
        return None
    value = response.headers.get("Retry-After", "")
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    info = parse_ratelimit_headers(response.headers)
    if info is not None and info.remaining == 0:
        return min(float(info.reset_in_seconds), RETRY_AFTER_MAX)
    return None


def gated_message(exc: GatedRepoError) -> str:
    """Which of the three gated cases this is: no token, a token without access, or a request pending."""
    server = getattr(exc, "server_message", None) or ""
    (needs_token, _), (no_access, _), (pending, _) = GATED_CASES
    if status_of(exc) == 401:
        return f"gated repo: {needs_token} ({TOKEN_HELP}) from an account with access"
    if "awaiting a review" in server:
        return f"gated repo: access requested, {pending} by the repo's authors"
    visit = _VISIT.search(server)
    page = visit.group(1) if visit else _repo_page(exc)
    return f"gated repo: {no_access}: request it at {page or 'the repo page'}"


def _repo_page(exc: GatedRepoError) -> str | None:
    url = failed_url(exc)
    if url is None or not exc.repo_id:
        return None
    scheme, host = _origin(url)
    return f"{scheme}://{host}/{'datasets/' if exc.repo_type == 'dataset' else ''}{exc.repo_id}"


def describe(exc: BaseException, *, token: str | None = None, endpoint: str | None = None) -> str:
    """A one-line message for ``exc``; never contains the token."""
    if isinstance(exc, GatedRepoError):
        msg = gated_message(exc)
    elif isinstance(exc, AnswerTooLarge):
        msg = str(exc)
    elif isinstance(exc, RevisionNotFoundError):
        msg = "revision not found on this endpoint"
    elif isinstance(exc, RemoteEntryNotFoundError):
        msg = "file not found on this endpoint"
    elif isinstance(exc, RepositoryNotFoundError):
        msg = "repo not found on this endpoint (check the id and whether it is a model or a dataset)"
    elif isinstance(exc, HfHubHTTPError) and off_endpoint(exc, endpoint):
        host = _origin(failed_url(exc) or "")[1]
        expired = "expired" in (getattr(exc, "server_message", None) or "") + str(exc)
        msg = f"the download link on {host} {'expired' if expired else f'answered HTTP {status_of(exc)}'}"
    elif isinstance(exc, HfHubHTTPError):
        msg = _http_message(exc)
    elif isinstance(exc, httpx2.TimeoutException):
        msg = "the server stopped sending (read timeout); retry later or raise MUSICGEN_READ_TIMEOUT"
    elif isinstance(exc, httpx2.DecodingError):
        msg = "the server sent a body that could not be decoded (damaged compression)"
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
    if status == 429:
        wait = retry_after(exc)
        return "rate-limited by the Hub (HTTP 429)" + (f"; its window resets in {wait:.0f} s" if wait else "")
    return f"HTTP {status}" + (f": {server.splitlines()[0]}" if server else "")
