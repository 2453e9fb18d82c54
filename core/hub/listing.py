"""One listing per repo, pinned to a commit: every file with its size and the Hub's hashes.

Every API call has the read timeout and the shared backoff (a 429 waits for the Hub's ``RateLimit`` window, a
stalled answer times out and is asked again). The tree's pages are followed on the configured endpoint only:
a mirror that writes another host into its ``Link`` header (hf-mirror writes huggingface.co) would otherwise send
the next page, and the token, upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx2
from huggingface_hub import DatasetInfo, ModelInfo
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

from ..remote import Listing, RemoteFile, RemoteFiles
from ..repos import RepoRef
from ..settings import Settings
from .backoff import retrying
from .errors import AnswerTooLarge, status_of

MAX_ANSWER = 64 << 20  # decoded bytes of one API answer: a 1,000-file tree page is about 0.3 MB
OnRetry = Callable[[str, float], object]  # (what failed, seconds until the next try)


class HubApi:
    """The API calls of a plan. Safe to share between threads."""

    def __init__(self, settings: Settings, *, cancel: threading.Event | None = None) -> None:
        self.settings = settings
        self.cancel = cancel
        self.headers = build_hf_headers(token=settings.token, library_name="musicgen-tui")
        self.endpoint = settings.endpoint.rstrip("/")

    def _retrying(self, call: Callable[[], Any], on_retry: OnRetry | None) -> Any:
        return retrying(call, tries=self.settings.retries, endpoint=self.endpoint, token=self.settings.token,
                        cancel=self.cancel, on_retry=on_retry)

    def repo_info(self, ref: RepoRef, revision: str | None, *, files_metadata: bool = False,
                  expand: Any = None, on_retry: OnRetry | None = None) -> Any:
        """``HfApi.repo_info``'s request and answer (a ``ModelInfo`` or ``DatasetInfo``), read through
        ``_get_json``'s cap on the decoded size."""
        url = f"{self.endpoint}/api/{ref.repo_type}s/{ref.repo_id}"
        if revision is not None:
            url += f"/revision/{quote(revision, safe='')}"
        params: dict[str, Any] = {"blobs": True} if files_metadata else {}
        if expand:
            params["expand"] = expand
        data, _ = self._retrying(partial(self._get_json, url, params), on_retry)
        if not isinstance(data, dict):
            raise ValueError(f"the endpoint's answer to {urlsplit(url).path} is not a JSON object")
        return (ModelInfo if ref.repo_type == "model" else DatasetInfo)(**data)

    def tree(self, ref: RepoRef, commit: str, *, foreign: set[str] | None = None,
             on_retry: OnRetry | None = None,
             on_page: Callable[[list[dict[str, Any]]], object] | None = None) -> Iterator[dict[str, Any]]:
        """Every entry of the recursive tree, page by page (``on_page`` hears each page once it is served);
        hosts of links moved back to the endpoint go in ``foreign``."""
        url: str | None = f"{self.endpoint}/api/{ref.repo_type}s/{ref.repo_id}/tree/{quote(commit, safe='')}"
        params: dict[str, str] | None = {"recursive": "true", "expand": "false"}
        while url is not None:
            page, link = self._retrying(partial(self._get_json, url, params), on_retry)
            if not isinstance(page, list):
                raise ValueError(f"the endpoint's tree page {urlsplit(url).path} is not a JSON list")
            yield from page
            if on_page is not None:
                on_page(page)
            url, params = (self.on_endpoint(link, foreign) if link else None), None

    def _get_json(self, url: str, params: dict[str, Any] | None) -> tuple[Any, str | None]:
        """One GET (the retries are ours, cancellable): its JSON and its next-page link. The body is read as it is
        decompressed, up to MAX_ANSWER bytes: a 500 KB gzip answer can inflate to gigabytes (``AnswerTooLarge``)."""
        read = capped_get(url, params=params, headers=self.headers, timeout=self.settings.read_timeout)
        return read.json(), read.links.get("next", {}).get("url")

    def on_endpoint(self, link: str, foreign: set[str] | None = None) -> str:
        """``link`` on the configured endpoint: its path and query kept, the origin (and path prefix) ours."""
        ep, nxt = urlsplit(self.endpoint), urlsplit(link)
        prefix = ep.path.rstrip("/")
        if (nxt.scheme, nxt.netloc.lower()) == (ep.scheme, ep.netloc.lower()) and nxt.path.startswith(prefix + "/"):
            return link
        if foreign is not None and nxt.netloc.lower() != ep.netloc.lower():
            foreign.add(nxt.netloc)
        path = nxt.path if prefix and nxt.path.startswith(prefix + "/") else prefix + nxt.path
        return urlunsplit((ep.scheme, ep.netloc, path, nxt.query, ""))


def capped_get(url: str, *, headers: dict[str, str], timeout: float, params: dict[str, Any] | None = None,
               limit: int = MAX_ANSWER, follow_redirects: bool = False) -> httpx2.Response:
    """One GET (no retry of its own: the callers' retries are cancellable), its body read as it is decompressed up
    to ``limit`` bytes (``AnswerTooLarge``): a 500 KB gzip answer can inflate to gigabytes. An error status
    raises as huggingface_hub words it."""
    with http_stream_backoff("GET", url, params=params, headers=headers, timeout=timeout, max_retries=0,
                             follow_redirects=follow_redirects) as r:
        body = bytearray()
        for chunk in r.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise AnswerTooLarge(url, limit)
        read = httpx2.Response(r.status_code, request=r.request, content=bytes(body),
                               headers=[(k, v) for k, v in r.headers.multi_items()
                                        if k.lower() not in ("content-encoding", "content-length")])
    hf_raise_for_status(read)
    return read


def fetch_listing(api: HubApi, ref: RepoRef, revision: str | None = None, *, on_retry: OnRetry | None = None,
                  notes: list[str] | None = None, on_listed: Callable[[int], object] | None = None) -> Listing:
    """Resolve the revision to a commit, then list the whole tree at that commit (following the pages;
    ``on_listed`` hears the number of entries listed so far after each page)."""
    # only the commit and the gate: without ``expand`` the Hub sends every file's name as well (100,000 of them
    # parsed into objects, 25 MB at once, and the tree lists them again)
    info = api.repo_info(ref, revision, expand=["sha", "gated"], on_retry=on_retry)
    commit = info.sha or revision or "main"
    hub_id = getattr(info, "id", None)
    if isinstance(hub_id, str) and hub_id != ref.repo_id and hub_id.lower() == ref.repo_id.lower():
        ref = RepoRef(ref.repo_type, hub_id)
    foreign: set[str] = set()
    listed = 0

    def on_page(page: list[dict[str, Any]]) -> None:
        nonlocal listed
        listed += sum(1 for e in page if e.get("type") == "file")
        if on_listed is not None:
            on_listed(listed)

    try:
        files = RemoteFiles(_remote(e) for e in api.tree(ref, commit, foreign=foreign, on_retry=on_retry,
                                                         on_page=on_page) if e.get("type") == "file")
    except HfHubHTTPError as e:
        # A mirror without the tree API: fall back to the repo info's file list with sizes and hashes.
        if isinstance(e, (RepositoryNotFoundError, RevisionNotFoundError)) or status_of(e) not in (404, 405, 501):
            raise
        files = RemoteFiles(_files_from_siblings(api, ref, commit, on_retry))
    if foreign and notes is not None:
        notes.append(f"the endpoint's next-page links point at {', '.join(sorted(foreign))} (a mirror's bug); "
                     f"the pages were fetched from {api.endpoint} instead")
    # packed as the pages come: 100,000 files never stand as objects at once (sorted again only when out of order)
    return Listing(ref, commit, files.sorted(), gated=bool(getattr(info, "gated", False)))


def _remote(entry: dict[str, Any]) -> RemoteFile:
    """A tree entry as a file. An LFS file keeps its sha256 only: its git blob id (the pointer's) is checked by
    nothing, and 100,000 of them held 9 MB."""
    sha256 = (entry.get("lfs") or {}).get("oid")
    return RemoteFile(entry["path"], int(entry.get("size") or 0), "" if sha256 else entry.get("oid") or "", sha256)


def _files_from_siblings(api: HubApi, ref: RepoRef, commit: str, on_retry: OnRetry | None) -> list[RemoteFile]:
    info = api.repo_info(ref, commit, files_metadata=True, on_retry=on_retry)
    return [RemoteFile(s.rfilename, int(s.size or 0), s.blob_id or "", s.lfs.sha256 if s.lfs else None)
            for s in getattr(info, "siblings", None) or []]
