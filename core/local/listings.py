"""The listing cache: what the Hub last said of each repo (its files at a commit, or that it is gated or not
there), kept in the root so reopening the app costs no API call. Entries last a day and belong to one endpoint;
the app's refresh key and every download plan ask the Hub again."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from ..remote import Listing, RemoteFile, RemoteFiles
from ..repos import RepoRef
from ..states import RepoStatus
from .damaged import DAMAGED, unreadable
from .jsonio import write_json_atomic
from .safeio import make_dirs

CACHE_DIR = ".musicgen-tui-cache"
MAX_AGE = 24 * 3600.0
# An answer, not an accident, so worth keeping; kept with whether a token asked, because a private repo is "not
# there" to a client without one. (Gated refusals are not kept: access changes while the app is closed.)
CACHED_FAILURES = (RepoStatus.NOT_ON_ENDPOINT,)
Cached = Listing | tuple[RepoStatus, str]


class ListingCache:
    def __init__(self, root: Path, endpoint: str, *, with_token: bool, max_age: float = MAX_AGE) -> None:
        self.root, self.endpoint, self.max_age = root, endpoint.rstrip("/"), max_age
        self.with_token = with_token

    def _path(self, ref: RepoRef) -> Path:
        return self.root / CACHE_DIR / "listings" / ref.repo_type / (ref.repo_id.lower().replace("/", "--") + ".json")

    def get(self, ref: RepoRef) -> Cached | None:
        """The cached answer for ``ref`` from this endpoint, when younger than ``max_age``."""
        try:
            data = json.loads(self._path(ref).read_bytes())
            if data["endpoint"] != self.endpoint or time.time() - data["saved"] > self.max_age:
                return None
            if "status" in data:
                if data["with_token"] != self.with_token:
                    return None
                return RepoStatus(data["status"]), str(data["message"])
            files = RemoteFiles(RemoteFile(p, int(s), b, h) for p, s, b, h in data["files"])
            return Listing(RepoRef(data["repo_type"], data["repo_id"]), data["commit"], files, bool(data["gated"]))
        except DAMAGED as e:
            unreadable(self._path(ref), e)
            return None

    def put(self, ref: RepoRef, answer: Cached) -> None:
        """Keep a listing, or a gated / not-on-endpoint answer; never fails the plan (a read-only root)."""
        if not self.root.is_dir():
            return
        data: dict[str, object] = {"endpoint": self.endpoint, "saved": time.time()}
        if isinstance(answer, Listing):
            data.update(repo_id=answer.ref.repo_id, repo_type=answer.ref.repo_type, commit=answer.commit,
                        gated=answer.gated, files=[[f.path, f.size, f.blob_id, f.sha256] for f in answer.files])
        elif answer[0] in CACHED_FAILURES:
            data.update(status=str(answer[0]), message=answer[1], with_token=self.with_token)
        else:
            return
        with contextlib.suppress(OSError):  # a cache: a read-only root, or a planted symlink, keeps none
            make_dirs(self._path(ref).parent, self.root)
            write_json_atomic(self._path(ref), data, indent=None)
