"""Small requests a plan makes beyond the listing: whether our token may read a gated repo's files, and which
codec repo a reference-sized ``compression_state_dict.bin`` names (read as pickle opcodes, never unpickled)."""

from __future__ import annotations

import io

from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers, disable_progress_bars

from ..local import metadata
from ..plan import RepoPlan
from ..runtime.pickles import repo_ids_in_pickle
from ..settings import Settings
from ..states import RepoStatus
from .backoff import retrying
from .errors import describe, is_repo_level

REFERENCE_FILE = "compression_state_dict.bin"
REFERENCE_MAX = 4096  # a compression_state_dict.bin this small names a codec repo instead of holding weights


def check_access(settings: Settings, rp: RepoPlan) -> None:
    """For a gated repo, ask for one pending file's metadata with our token, so the plan already says
    'needs a token' instead of every file failing later."""
    assert rp.listing is not None
    f = next(rp.pending_files()).remote
    url = hf_hub_url(rp.ref.repo_id, f.path, repo_type=rp.ref.repo_type, revision=rp.listing.commit,
                     endpoint=settings.endpoint)
    try:
        retrying(lambda: get_hf_file_metadata(url, token=settings.token, endpoint=settings.endpoint,
                                              timeout=settings.read_timeout),
                 tries=settings.retries, endpoint=settings.endpoint, token=settings.token)
    except Exception as e:
        if is_repo_level(e, settings.endpoint):
            rp.fail(RepoStatus.GATED, describe(e, token=settings.token, endpoint=settings.endpoint))


def referenced_codecs(settings: Settings, rp: RepoPlan) -> list[str]:
    """Codec repos named by a reference-sized ``compression_state_dict.bin`` (the copy on disk when it is
    whole, else read into memory, never saved)."""
    assert rp.listing is not None
    ref_file = rp.files.remote.find(REFERENCE_FILE)
    if ref_file is None or ref_file.size > REFERENCE_MAX:
        return []
    path = metadata.download_paths(rp.local_dir, ref_file.path).file_path
    try:
        data = path.read_bytes() if path.is_file() else b""
        if len(data) != ref_file.size:
            buf = io.BytesIO()
            url = hf_hub_url(rp.ref.repo_id, ref_file.path, repo_type=rp.ref.repo_type, revision=rp.listing.commit,
                             endpoint=settings.endpoint)
            disable_progress_bars()
            http_get(url, buf, headers=build_hf_headers(token=settings.token), expected_size=ref_file.size)
            data = buf.getvalue()
    except Exception:
        return []
    return repo_ids_in_pickle(data)
