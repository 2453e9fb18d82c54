"""A Hub-shaped HTTP server on 127.0.0.1, for tests, benchmarks and the offline demo.

It serves repos held in memory or on disk in the shape the real ``huggingface_hub`` client expects (repo info,
the paginated tree API, paths-info, ``resolve`` with Range), answers errors worded as the Hub words them, and
sends the Hub's rate-limit headers. In realistic mode (the default) LFS bodies come from a CDN on a second
origin through signed URLs that expire, and small files from a gzip-encoding resolve cache. It can serve under
a path prefix and write another host into the tree's next-page links, as mirrors do, and it can inject faults:
resets, 5xx and 429 answers, corrupted, slow or stalled bodies, expired URLs, stalled API answers.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from .cdn import URL_LIFETIME, CdnHandler, signed_path
from .faults import Fault, FaultBook, FaultSite, HubStats
from .handler import API_QUOTA, API_WINDOW, Handler
from .repos import HubFile, HubRepo
from .serving import HubHTTPServer


class LocalHub(FaultBook):
    """The server (and its CDN). Use as a context manager, or ``start()`` / ``stop()``.

    ``realistic=False`` serves every body from ``resolve`` itself (no redirect, no gzip): quicker, for unit tests.
    ``prefix`` serves under a path (``HF_ENDPOINT=http://host:port/prefix``); ``link_host`` is written into the
    tree's ``Link`` headers instead of this server's address (hf-mirror writes huggingface.co there).
    ``api_quota`` makes the API answer 429 once that many calls were made in the Hub's 5-minute window."""

    def __init__(self, repos: list[HubRepo] | None = None, *, tokens: set[str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, realistic: bool = True, prefix: str = "",
                 link_host: str | None = None, api_quota: int | None = None,
                 conn_limit: float | None = None) -> None:
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.history: dict[tuple[str, str], dict[str, HubRepo]] = {}  # earlier commits still served, by commit
        for repo in repos or []:
            self.add(repo)
        self.tokens = set(tokens or ())
        self.faults: list[Fault] = []
        self.tree_api = True
        self.realistic = realistic
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.link_host = link_host
        self.api_quota = api_quota
        self.conn_limit = conn_limit  # bytes a second for each connection's body, as CDNs and mirrors cap it
        self.url_lifetime = URL_LIFETIME
        self.secret = os.urandom(16)
        self.stats = HubStats()
        self._lock = threading.Lock()
        self._api_calls: deque[float] = deque()
        self._server = HubHTTPServer((host, port), Handler)
        self._server.hub = self
        self._cdn = HubHTTPServer((host, 0), CdnHandler)
        self._cdn.hub = self
        self._threads: list[threading.Thread] = []

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """What ``HF_ENDPOINT`` is set to: the origin, and the prefix when there is one."""
        return self.origin + self.prefix

    @property
    def cdn_url(self) -> str:
        host, port = self._cdn.server_address[:2]
        return f"http://{host!s}:{port}"

    def signed_url(self, repo: HubRepo, f: HubFile, path: str) -> str:
        return self.cdn_url + signed_path(self.secret, repo, f, path, self.url_lifetime)

    def add(self, repo: HubRepo) -> None:
        """Serve ``repo`` as its main; the version it replaces stays served by its commit, as the Hub keeps history."""
        key = (repo.repo_type, repo.repo_id.lower())
        old = self.repos.get(key)
        if old is not None and old.commit != repo.commit:
            self.history.setdefault(key, {})[old.commit] = old
        self.repos[key] = repo

    def lfs_file(self, repo_type: str, repo_id: str, path: str, sha256: str) -> HubFile | None:
        """The LFS file the CDN serves by content: ``path`` of the repo's main or of an earlier commit still served."""
        key = (repo_type, repo_id.lower())
        versions = [self.repos[key]] if key in self.repos else []
        versions += list(self.history.get(key, {}).values())
        return next((f for r in versions if (f := r.get(path)) is not None and f.sha256 == sha256), None)

    def squash(self, repo_type: str, repo_id: str) -> None:
        """Forget a repo's earlier commits (``super_squash_history``): only its main is served from now on."""
        self.history.pop((repo_type, repo_id.lower()), None)

    def at(self, repo_type: str, repo_id: str, revision: str | None) -> HubRepo | None:
        """The repo at ``revision`` (main, its commit or an earlier commit still served), or None."""
        key = (repo_type, repo_id.lower())
        repo = self.repos.get(key)
        if repo is None or revision in (None, "main", repo.commit):
            return repo
        return self.history.get(key, {}).get(revision or "")

    def clear_faults(self) -> None:
        super().clear_faults()
        with self._lock:
            self._api_calls.clear()

    def take_fault(self, path: str, at: FaultSite = "body") -> Fault | None:
        fault = self.take_injected(path, at)
        if fault is not None:
            return fault
        if at == "api" and self.api_quota is not None and self.api_remaining(count=False) == 0:
            return Fault("status", status=429, at="api", reset_in=max(1, int(self._window_left())))
        return None

    def api_remaining(self, *, count: bool = True) -> int:
        """API calls left in the current window (``count`` spends one)."""
        now = time.monotonic()
        with self._lock:
            while self._api_calls and now - self._api_calls[0] >= API_WINDOW:
                self._api_calls.popleft()
            if count:
                self._api_calls.append(now)
            return max(0, (self.api_quota or API_QUOTA) - len(self._api_calls))

    def _window_left(self) -> float:
        with self._lock:
            return API_WINDOW - (time.monotonic() - self._api_calls[0]) if self._api_calls else 0.0

    def start(self) -> LocalHub:
        for name, server in (("localhub", self._server), ("localhub-cdn", self._cdn)):
            t = threading.Thread(target=server.serve_forever, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for server in (self._server, self._cdn):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
