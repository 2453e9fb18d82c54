"""What the local Hub can be told to do wrong, and what it counts while it serves."""

from __future__ import annotations

import fnmatch
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["reset", "status", "corrupt", "slow", "stall", "ignore-range", "expire", "bomb"]
# Where a fault fires: the request that serves a file's bytes (the CDN, the resolve cache, or ``resolve`` itself
# in plain mode), the ``resolve`` request, or an API request (``path`` then matches the URL path).
FaultSite = Literal["body", "resolve", "api"]


@dataclass
class Fault:
    """A fault injected into the requests at ``at`` whose file path (or API URL path) matches ``path`` (a glob).

    ``status`` answers that status (with ``Retry-After`` or a ``RateLimit`` header whose ``t=`` is ``reset_in``);
    ``expire`` answers the CDN's 403 for an expired signed URL; ``stall`` on the API sends the headers and half
    the body, then waits ``delay`` seconds and hangs up; ``bomb`` on the API answers a gzip body that inflates to
    ``after_bytes`` (a few hundred KB on the wire)."""

    kind: FaultKind
    path: str = "*"
    times: int = 1
    after_bytes: int = 0
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.05
    at: FaultSite = "body"
    reset_in: int | None = None


@dataclass
class HubStats:
    """What the servers did: requests by kind, body bytes served per file path.

    Kinds: ``api`` (every API request, refused ones too), ``info``, ``tree``, ``paths-info``; ``GET`` and
    ``HEAD`` (``resolve``); ``cdn``, ``cdn-body`` and ``resolve-cache`` (bodies served after a redirect);
    ``auth`` (Hub requests carrying a token); ``cdn-auth`` (CDN requests carrying one: must stay 0);
    ``api-429`` (API requests refused for the rate limit)."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_served: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def served(self, path: str, n: int) -> None:
        with self.lock:
            self.bytes_served[path] += n


class FaultBook:
    """Faults injected into a server, taken one at a time by the requests they match (``self.faults`` under
    ``self._lock``, set by the server)."""

    faults: list[Fault]
    _lock: threading.Lock

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_injected(self, path: str, at: FaultSite) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.at == at and fnmatch.fnmatchcase(path, fault.path):
                    fault.times -= 1
                    return fault
        return None
