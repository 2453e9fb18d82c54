"""One listing per repo, pinned to a commit: every file with its size and the Hub's hashes."""

from __future__ import annotations

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile

from ..remote import Listing, RemoteFile
from ..repos import RepoRef
from .errors import status_of


def fetch_listing(api: HfApi, ref: RepoRef, revision: str | None = None) -> Listing:
    """Resolve the revision to a commit, then list the whole tree at that commit (following the pages)."""
    info = api.repo_info(ref.repo_id, repo_type=ref.repo_type, revision=revision)
    commit = info.sha or revision or "main"
    hub_id = getattr(info, "id", None)
    if isinstance(hub_id, str) and hub_id != ref.repo_id and hub_id.lower() == ref.repo_id.lower():
        ref = RepoRef(ref.repo_type, hub_id)
    try:
        files = [RemoteFile(e.path, int(e.size), e.blob_id, e.lfs.sha256 if e.lfs else None)
                 for e in api.list_repo_tree(ref.repo_id, repo_type=ref.repo_type, revision=commit, recursive=True)
                 if isinstance(e, RepoFile)]
    except HfHubHTTPError as e:
        # A mirror without the tree API: fall back to the repo info's file list with sizes and hashes.
        if isinstance(e, (RepositoryNotFoundError, RevisionNotFoundError)) or status_of(e) not in (404, 405, 501):
            raise
        files = _files_from_siblings(api, ref, commit)
    files.sort(key=lambda f: f.path)
    return Listing(ref, commit, files, gated=bool(getattr(info, "gated", False)))


def _files_from_siblings(api: HfApi, ref: RepoRef, commit: str) -> list[RemoteFile]:
    info = api.repo_info(ref.repo_id, repo_type=ref.repo_type, revision=commit, files_metadata=True)
    return [RemoteFile(s.rfilename, int(s.size or 0), s.blob_id or "", s.lfs.sha256 if s.lfs else None)
            for s in getattr(info, "siblings", None) or []]
