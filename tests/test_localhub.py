"""The local Hub, driven by the real huggingface_hub client over HTTP."""

from __future__ import annotations

import hashlib

import httpx2
import pytest
from conftest import TOKEN
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile

from localhub import HubFile, HubRepo, LocalHub


def api(hub: LocalHub, token: str | bool = False) -> HfApi:
    return HfApi(endpoint=hub.url, token=token)


def test_repo_info_with_blobs(hub: LocalHub) -> None:
    info = api(hub).model_info("acme/tiny-model", files_metadata=True)
    repo = hub.repos[("model", "acme/tiny-model")]
    assert info.sha == repo.commit and len(info.sha) == 40
    sib = {s.rfilename: s for s in info.siblings or []}
    st = sib["weights/model.safetensors"]
    assert st.size == 300_000 and st.lfs is not None
    assert st.lfs.sha256 == hashlib.sha256(repo.get("weights/model.safetensors").read()).hexdigest()  # type: ignore[union-attr]
    assert sib["config.json"].lfs is None
    data = b'{"model_type": "musicgen"}\n'
    assert sib["config.json"].blob_id == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_tree_is_paginated_and_complete(hub: LocalHub) -> None:
    entries = list(api(hub).list_repo_tree("acme/many-files", repo_type="dataset", recursive=True))
    files = [e for e in entries if isinstance(e, RepoFile)]
    assert len(files) == 2_502
    assert hub.stats.requests["tree"] == 3
    top = list(api(hub).list_repo_tree("acme/many-files", repo_type="dataset"))
    assert sorted(e.path for e in top) == ["README.md", "data"]


def test_paths_info(hub: LocalHub) -> None:
    out = api(hub).get_paths_info("acme/tiny-model", ["config.json", "nope.txt", "state_dict.bin"])
    assert [e.path for e in out] == ["config.json", "state_dict.bin"]


def test_head_and_range(hub: LocalHub) -> None:
    repo = hub.repos[("model", "acme/tiny-model")]
    url = hf_hub_url("acme/tiny-model", "state_dict.bin", endpoint=hub.url)
    meta = get_hf_file_metadata(url, token=False)
    assert meta.commit_hash == repo.commit
    assert meta.etag == repo.get("state_dict.bin").sha256  # type: ignore[union-attr]
    assert meta.size == 1_200_000
    r = httpx2.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == repo.get("state_dict.bin").read(100, 200)  # type: ignore[union-attr]
    assert r.headers["Content-Range"] == "bytes 100-199/1200000"


def test_errors_carry_hub_error_codes(hub: LocalHub) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api(hub).model_info("acme/nope")
    with pytest.raises(RevisionNotFoundError):
        api(hub).model_info("acme/tiny-model", revision="v9")
    with pytest.raises(RemoteEntryNotFoundError):
        get_hf_file_metadata(hf_hub_url("acme/tiny-model", "nope.bin", endpoint=hub.url), token=False)
    gated = hf_hub_url("acme/gated-model", "w.bin", endpoint=hub.url)
    with pytest.raises(GatedRepoError):
        get_hf_file_metadata(gated, token=False)
    assert get_hf_file_metadata(gated, token=TOKEN).size == 20_000


def test_binds_loopback_only() -> None:
    with LocalHub([HubRepo("a/b", files=[HubFile("x", b"1")])]) as hub:
        assert hub.url.startswith("http://127.0.0.1:")
