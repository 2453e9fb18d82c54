"""The local Hub, driven by the real huggingface_hub client over HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from conftest import TOKEN
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile

from localhub import Fault, HubFile, HubRepo, LocalHub


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


def test_repo_info_expand_sends_only_what_is_asked(hub: LocalHub) -> None:
    """As the Hub: ``expand`` leaves out the siblings (a 300,000-file dataset's every name)."""
    info = api(hub).dataset_info("acme/many-files", expand=["sha", "gated"])
    assert info.sha == hub.repos[("dataset", "acme/many-files")].commit and info.siblings is None
    assert len(api(hub).dataset_info("acme/many-files").siblings or []) == 2_502


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
    r = httpx2.get(url, headers={"Range": "bytes=100-199"}, follow_redirects=True)
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


# --- the realistic Hub: shapes of huggingface.co ------------------------------------------------------------------
NO_ACCESS, PENDING = "hf_noaccess_7d2b", "hf_pending_5e1a"


@pytest.fixture
def real() -> Iterator[LocalHub]:
    """A realistic Hub of its own: one LFS and one small file, a gated repo with three kinds of token."""
    gated = HubRepo("acme/gated", "model", [HubFile("config.json", b"{}\n"), HubFile("w.bin", b"w" * 20_000)],
                    gated=True, access={NO_ACCESS: "none", PENDING: "pending"})
    closed = HubRepo("acme/closed", "dataset", [HubFile("a.csv", b"a\n")], gated=True, listing_refused=True)
    repo = HubRepo("acme/real", "model", [HubFile("big.bin", bytes(range(256)) * 400),
                                          HubFile("config.json", b'{"a": 1}\n' * 50)])
    with LocalHub([repo, gated, closed], tokens={TOKEN, NO_ACCESS, PENDING}) as hub:
        yield hub


def resolve(hub: LocalHub, path: str, repo: str = "acme/real") -> str:
    return hf_hub_url(repo, path, endpoint=hub.url)


def test_lfs_resolve_redirects_to_a_signed_url_on_another_origin(real: LocalHub) -> None:
    f = real.repos[("model", "acme/real")].get("big.bin")
    assert f is not None
    for method in ("HEAD", "GET"):
        r = httpx2.request(method, resolve(real, "big.bin"))
        assert r.status_code == 302
        location = r.headers["Location"]
        assert location.startswith(real.cdn_url) and real.cdn_url != real.origin
        assert "Expires=" in location and "Signature=" in location
        assert r.headers["X-Linked-Etag"] == f'"{f.sha256}"' and r.headers["X-Linked-Size"] == str(f.size)
        assert r.headers["X-Repo-Commit"] == real.repos[("model", "acme/real")].commit
        assert r.headers["ETag"] and len(r.headers["X-Xet-Hash"]) == 64
    cdn = httpx2.get(location, headers={"Range": "bytes=1000-1999"})
    assert cdn.status_code == 206 and cdn.content == f.read(1000, 2000)
    tail = httpx2.get(location, headers={"Range": "bytes=100000-"})
    assert tail.status_code == 206 and tail.content == f.read(100_000)
    assert httpx2.get(location).content == f.read()
    assert real.stats.requests["cdn-auth"] == 0
    httpx2.get(location, headers={"Authorization": "Bearer x"})
    assert real.stats.requests["cdn-auth"] == 1  # the CDN tells when a token reached it


def test_cdn_urls_expire_and_cannot_be_forged(real: LocalHub) -> None:
    location = httpx2.get(resolve(real, "big.bin")).headers["Location"]
    real.inject(Fault("expire", "big.bin"))
    r = httpx2.get(location)
    assert r.status_code == 403 and b"Request has expired" in r.content
    assert r.headers["Content-Type"] == "application/xml"
    assert httpx2.get(location).status_code == 200  # the fault fired once
    assert httpx2.get(location.replace("Signature=", "Signature=0")).status_code == 403
    real.url_lifetime = -1
    old = httpx2.get(resolve(real, "big.bin")).headers["Location"]
    assert b"Request has expired" in httpx2.get(old).content


def test_small_files_go_to_the_resolve_cache_gzip_encoded(real: LocalHub) -> None:
    data = real.repos[("model", "acme/real")].get("config.json").read()  # type: ignore[union-attr]
    r = httpx2.get(resolve(real, "config.json"))
    assert r.status_code == 307 and r.headers["Location"].startswith("/api/resolve-cache/models/acme/real/")
    with httpx2.Client(follow_redirects=True) as client:
        got = client.get(resolve(real, "config.json"), headers={"Accept-Encoding": "gzip", "Range": "bytes=5-"})
        assert got.status_code == 200  # Range ignored when gzip-encoding
        assert got.headers["Content-Encoding"] == "gzip" and got.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in got.headers and got.headers["ETag"].startswith('W/"')
        assert got.content == data
        plain = client.get(resolve(real, "config.json"), headers={"Accept-Encoding": "identity", "Range": "bytes=5-"})
        assert plain.status_code == 206 and plain.content == data[5:]
    meta = get_hf_file_metadata(resolve(real, "config.json"), token=False)
    assert meta.size == len(data) and meta.etag == real.repos[("model", "acme/real")].get("config.json").blob_id  # type: ignore[union-attr]


def error_of(r: httpx2.Response) -> tuple[int, str | None, str | None]:
    return r.status_code, r.headers.get("X-Error-Code"), r.headers.get("X-Error-Message")


def test_errors_are_worded_as_the_hub_words_them(real: LocalHub) -> None:
    def get(url: str, token: str | None = None) -> httpx2.Response:
        return httpx2.get(url, headers={"Authorization": f"Bearer {token}"} if token else {})

    assert error_of(get(f"{real.url}/api/models/acme/nope")) == (401, "RepoNotFound", "Invalid username or password.")
    assert error_of(get(f"{real.url}/api/models/acme/nope", TOKEN)) == (404, "RepoNotFound", "Repository not found")
    w = resolve(real, "w.bin", "acme/gated")
    status, code, msg = error_of(get(w))
    assert (status, code) == (401, "GatedRepo") and msg is not None and "Please log in" in msg
    status, code, msg = error_of(get(w, NO_ACCESS))
    assert (status, code) == (403, "GatedRepo") and msg is not None and "not in the authorized list" in msg
    assert f"Visit {real.url}/acme/gated to ask for access" in msg
    status, code, msg = error_of(get(w, PENDING))
    assert (status, code) == (403, "GatedRepo") and msg is not None and "awaiting a review" in msg
    assert get(w, TOKEN).status_code == 302
    # the repo info of a gated repo is public; a repo can also refuse its listing
    assert get(f"{real.url}/api/datasets/acme/closed").status_code == 200
    assert error_of(get(f"{real.url}/api/datasets/acme/closed/tree/main"))[:2] == (401, "GatedRepo")
    with pytest.raises(GatedRepoError):
        list(api(real).list_repo_tree("acme/closed", repo_type="dataset"))
    assert error_of(get(f"{real.url}/api/models/acme/real", "hf_wrong"))[2] == \
        "Invalid credentials in Authorization header"


def test_rate_limits_carry_the_hubs_headers(real: LocalHub) -> None:
    r = httpx2.get(f"{real.url}/api/models/acme/real")
    assert r.headers["RateLimit"].startswith('"api";r=') and "q=500;w=300" in r.headers["RateLimit-Policy"]
    real.inject(Fault("status", "/api/models/acme/real*", status=429, at="api", reset_in=55))
    r = httpx2.get(f"{real.url}/api/models/acme/real")
    assert r.status_code == 429 and r.headers["RateLimit"] == '"api";r=0;t=55' and "Retry-After" not in r.headers
    real.inject(Fault("status", "big.bin", status=429, at="resolve", reset_in=1))
    assert httpx2.get(resolve(real, "big.bin")).status_code == 429
    with LocalHub([HubRepo("a/b", files=[HubFile("x", b"1")])], api_quota=3) as quota:
        codes = [httpx2.get(f"{quota.url}/api/models/a/b").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429] and quota.stats.requests["api-429"] == 2


def test_a_stalled_api_answer_sends_half_its_body(real: LocalHub) -> None:
    real.inject(Fault("stall", "/api/models/acme/real", at="api", delay=1.5))
    with pytest.raises((httpx2.ReadTimeout, httpx2.RemoteProtocolError)):
        httpx2.get(f"{real.url}/api/models/acme/real", timeout=0.5)


def test_mirror_shapes_foreign_link_host_and_path_prefix(tmp_path: Path) -> None:
    files = [HubFile(f"d/{i:04d}.txt", b"%d\n" % i) for i in range(1_500)]
    with LocalHub([HubRepo("acme/set", "dataset", files)], prefix="/hf", link_host="https://huggingface.co") as m:
        assert m.url.endswith("/hf") and httpx2.get(f"{m.origin}/api/datasets/acme/set").status_code == 404
        r = httpx2.get(f"{m.url}/api/datasets/acme/set/tree/main", params={"recursive": "true"})
        assert r.links["next"]["url"].startswith("https://huggingface.co/api/datasets/acme/set/tree/main?")
        assert r.headers["Link"].count("/hf/") == 0
        # the prefix is kept in redirects, so the real client downloads through it
        got = hf_hub_download("acme/set", "d/0007.txt", repo_type="dataset", endpoint=m.url,
                              local_dir=tmp_path / "dl", token=False)
        assert Path(got).read_bytes() == b"7\n"


def test_plain_mode_serves_bodies_from_resolve() -> None:
    with LocalHub([HubRepo("a/b", files=[HubFile("w.bin", b"w" * 20_000)])], realistic=False) as hub:
        r = httpx2.get(f"{hub.url}/a/b/resolve/main/w.bin")
        assert r.status_code == 200 and r.content == b"w" * 20_000 and hub.stats.requests["cdn"] == 0
