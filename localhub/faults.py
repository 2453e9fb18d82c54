"""What the local Hub can be told to do wrong, and what it counts while it serves."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["reset", "status", "corrupt", "slow", "stall", "ignore-range"]


@dataclass
class Fault:
    """A fault injected into ``resolve`` GETs of the files matching ``path`` (a glob)."""

    kind: FaultKind
    path: str = "*"
    times: int = 1
    after_bytes: int = 0
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.05


@dataclass
class HubStats:
    """What the server did: requests by kind, body bytes served per file path."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_served: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def served(self, path: str, n: int) -> None:
        with self.lock:
            self.bytes_served[path] += n
