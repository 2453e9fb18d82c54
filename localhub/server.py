"""A small Hub-shaped HTTP server on 127.0.0.1, for tests, benchmarks and the offline demo.

It serves repos held in memory or on disk in the shape the real ``huggingface_hub`` client expects
(repo info, the paginated tree API, paths-info, HEAD/GET on ``resolve`` with Range), answers
``X-Error-Code`` errors like the Hub, and can inject faults: a connection reset after N bytes,
5xx or 429 responses, corrupted bodies and slow or stalled bodies.
"""

from __future__ import annotations

import fnmatch
import threading

from .faults import Fault, HubStats
from .handler import Handler, HubHTTPServer
from .repos import HubRepo


class LocalHub:
    """The server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, repos: list[HubRepo] | None = None, *, tokens: set[str] | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.repos: dict[tuple[str, str], HubRepo] = {}
        for repo in repos or []:
            self.add(repo)
        self.tokens = set(tokens or ())
        self.faults: list[Fault] = []
        self.tree_api = True
        self.stats = HubStats()
        self._lock = threading.Lock()
        self._server = HubHTTPServer((host, port), Handler)
        self._server.hub = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, repo: HubRepo) -> None:
        self.repos[(repo.repo_type, repo.repo_id.lower())] = repo

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fnmatch.fnmatchcase(path, fault.path):
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> LocalHub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="localhub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

