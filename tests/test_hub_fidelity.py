"""The tool against the Hub as it really is: CDN redirects with signed URLs that expire, gzip, the Hub's gated
wording, rate limits without Retry-After, stalled API answers, and mirrors that send the next page elsewhere.

Every test asserts the end state on disk, the message and the exit code; and that no token ever reached the CDN.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from conftest import BIG_SIZE, NO_ACCESS, PENDING, TOKEN, repo_dir, sources_settings, tree_bytes
from conftest import test_repos as hub_repos
from huggingface_hub import constants, snapshot_download
from textual.pilot import Pilot

from core.hub.download import Downloader
from core.hub.planner import Choice, make_plan
from core.repos import RepoRef
from core.settings import Settings
from localhub import Fault, HubFile, HubRepo, LocalHub
from tui.app import MusicgenApp, make_app

TINY = ("model", "acme/tiny-model")
BIG = ("model", "acme/big-file")


def hub_bytes(hub: LocalHub, repo_type: str, repo_id: str) -> dict[str, bytes]:
    return {f.path: f.read() for f in hub.repos[(repo_type, repo_id)].files}


def test_download_through_the_cdn_and_the_gzip_cache_sends_the_token_nowhere_else(cli, root: Path,
                                                                                   hub: LocalHub) -> None:
    (root / ".env").write_text(f"HF_TOKEN={TOKEN}\n")
    r = cli("download", "--model", "acme/tiny-model", "--model", "acme/gated-model", "--model", "acme/big-file",
            "--run")
    assert r.code == 0, r.out + r.err
    for repo_type, repo_id in (TINY, BIG, ("model", "acme/gated-model")):
        assert tree_bytes(repo_dir(root, repo_type, repo_id)) == hub_bytes(hub, repo_type, repo_id)
    assert hub.stats.requests["cdn-body"] >= 4 and hub.stats.requests["resolve-cache"] >= 5
    assert hub.stats.requests["cdn-auth"] == 0  # the token stays on the endpoint
    assert cli("verify").code == 0
    # hf download, our reference, works against the same Hub and keeps the token home too
    folder = snapshot_download("acme/gated-model", local_dir=root / "hf", endpoint=hub.url, token=TOKEN)
    assert tree_bytes(Path(folder)) == hub_bytes(hub, "model", "acme/gated-model")
    assert hub.stats.requests["cdn-auth"] == 0


def test_an_expired_or_failing_cdn_link_retries_that_file_only_with_the_bytes_kept(cli, root: Path,
                                                                                  hub: LocalHub) -> None:
    hub.inject(Fault("reset", "big.bin", after_bytes=BIG_SIZE // 2))
    hub.inject(Fault("expire", "big.bin"))  # the resumed request finds its signed URL expired
    hub.inject(Fault("status", "weights/model.safetensors", status=503))  # a CDN 5xx
    r = cli("download", "--model", "acme/big-file", "--model", "acme/tiny-model", "--run")
    assert r.code == 0, r.out + r.err
    assert tree_bytes(repo_dir(root, *BIG)) == hub_bytes(hub, *BIG)
    assert tree_bytes(repo_dir(root, *TINY)) == hub_bytes(hub, *TINY)
    assert hub.stats.bytes_served["big.bin"] <= 1.05 * BIG_SIZE  # resumed, not restarted
    assert hub.stats.requests["GET"] >= 2 + 8  # big.bin resolved again for each new link
    assert hub.stats.requests["cdn-auth"] == 0


def test_expired_links_every_time_fail_the_file_not_the_repo(root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("expire", "big.bin", times=100))
    settings = Settings(root=root, endpoint=hub.url, min_free=0, read_timeout=2, retries=2)
    result = Downloader(settings).run(make_plan(settings, [RepoRef(*BIG)]))
    res = result.repos[0]
    assert res.error is None and res.done == 1  # small.txt
    assert res.failed and res.failed[0][0] == "big.bin"
    assert "download link" in res.failed[0][1] and "expired" in res.failed[0][1]


@pytest.mark.parametrize(("token", "phrase"), [
    (None, "needs a token"), (NO_ACCESS, "no access: request it at "), (PENDING, "awaiting approval")])
def test_gated_cases_in_the_plan_the_download_and_json(cli, root: Path, hub: LocalHub, token: str | None,
                                                       phrase: str) -> None:
    if token:
        (root / ".env").write_text(f"HF_TOKEN={token}\n")
    r = cli("download", "--model", "acme/gated-model", "--dataset", "acme/closed-set", "--model", "acme/tiny-model",
            "--json")
    assert r.code == 1
    repos = {x["repo_id"]: x for x in r.json()["repos"]}
    for repo_id in ("acme/gated-model", "acme/closed-set"):  # the second also refuses its listing
        assert repos[repo_id]["status"] == "gated", repos[repo_id]
        assert phrase in repos[repo_id]["message"] and "not on this endpoint" not in repos[repo_id]["message"]
    assert repos["acme/tiny-model"]["status"] == "available"
    if token == NO_ACCESS:
        assert f"{hub.url}/acme/gated-model" in repos["acme/gated-model"]["message"]
    text = cli("download", "--model", "acme/gated-model", "--run")
    assert text.code == 1 and phrase in text.out and "Traceback" not in text.out + text.err
    assert not (repo_dir(root, "model", "acme/gated-model") / "w.bin").exists()
    if token:
        assert token not in r.out + r.err + text.out + text.err


def test_gated_refusal_at_download_time_names_the_case(root: Path, hub: LocalHub) -> None:
    """Access withdrawn (or the token changed) between the plan and the download."""
    ref = RepoRef("model", "acme/gated-model")
    plan = make_plan(Settings(root=root, endpoint=hub.url, token=TOKEN, min_free=0), [ref])
    assert plan.repos[0].ok
    result = Downloader(Settings(root=root, endpoint=hub.url, token=PENDING, min_free=0)).run(plan)
    assert result.repos[0].error is not None and "awaiting approval" in result.repos[0].error


def test_the_app_names_the_gated_case(tmp_path: Path, catalog_hub: LocalHub) -> None:
    medium = catalog_hub.repos[("model", "facebook/musicgen-medium")]
    catalog_hub.tokens.add(PENDING)
    medium.access = {PENDING: "pending"}

    async def go() -> MusicgenApp:
        app = make_app(Settings(root=tmp_path, endpoint=catalog_hub.url, token=PENDING, min_free=0,
                                **sources_settings()))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            entry = app.entries["model:facebook/musicgen-medium"]
            assert entry.size_cell() == "pending"
            assert entry.plan is not None and "awaiting approval" in (entry.plan.message or "")
        return app

    try:
        asyncio.run(go())
    finally:
        medium.access = {}
        catalog_hub.tokens.discard(PENDING)


async def until(pilot: Pilot[int], cond: object, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():  # type: ignore[operator]
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def test_api_rate_limit_waits_for_the_window_then_lists(cli, root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("status", "/api/datasets/acme/many-files/tree/*", status=429, at="api", reset_in=1, times=2))
    r = cli("download", "--dataset", "acme/many-files", "--model", "acme/tiny-model", "--json")
    assert r.code == 0, r.out
    repos = {x["repo_id"]: x for x in r.json()["repos"]}
    assert repos["acme/many-files"]["file_count"] == 2_502
    assert any("rate-limited" in n and "waited 1 s" in n for n in repos["acme/many-files"]["notes"])
    assert hub.stats.requests["api-429"] == 2


def test_a_repo_still_rate_limited_is_reported_and_the_others_go_on(cli, root: Path, hub: LocalHub,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_RETRIES", "2")
    hub.inject(Fault("status", "/api/datasets/acme/many-files*", status=429, at="api", reset_in=1, times=100))
    r = cli("download", "--dataset", "acme/many-files", "--model", "acme/tiny-model", "--run")
    assert r.code == 1
    line = next(ln for ln in r.out.splitlines() if ln.startswith("  acme/many-files:"))
    assert "rate-limited by the Hub (HTTP 429)" in line and "(after 2 tries)" in line
    assert tree_bytes(repo_dir(root, *TINY)) == hub_bytes(hub, *TINY)


def test_a_stalled_api_answer_times_out_and_is_asked_again(cli, root: Path, hub: LocalHub,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_READ_TIMEOUT", "0.5")
    hub.inject(Fault("stall", "/api/models/acme/tiny-model/tree/*", at="api", delay=2))
    hub.inject(Fault("stall", "/api/models/acme/tiny-model", at="api", delay=2))
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 0, r.out + r.err
    assert tree_bytes(repo_dir(root, *TINY)) == hub_bytes(hub, *TINY)


def test_a_repo_whose_api_always_stalls_fails_alone_and_nothing_hangs(root: Path, hub: LocalHub) -> None:
    hub.inject(Fault("stall", "/api/models/acme/big-file*", at="api", delay=1, times=100))
    settings = Settings(root=root, endpoint=hub.url, min_free=0, read_timeout=0.3, retries=2)
    done = threading.Event()
    plans = []
    t = threading.Thread(target=lambda: (plans.append(make_plan(settings, [RepoRef(*BIG), RepoRef(*TINY)])),
                                         done.set()), daemon=True)
    t.start()
    assert done.wait(30)
    big, tiny = plans[0].repos
    assert big.status == "error" and "read timeout" in (big.message or "") and "(after 2 tries)" in (big.message or "")
    assert tiny.ok


def test_a_mirror_linking_pages_upstream_keeps_them_on_the_endpoint(tmp_path: Path) -> None:
    upstream = LocalHub(hub_repos(), tokens={TOKEN}).start()  # stands for huggingface.co
    try:
        with LocalHub(hub_repos(), tokens={TOKEN}, link_host=upstream.url, prefix="/hf") as mirror:
            settings = Settings(root=tmp_path, endpoint=mirror.url, token=TOKEN, min_free=0, read_timeout=2)
            plan = make_plan(settings, [RepoRef("dataset", "acme/many-files")], Choice(include=("data/part4/*",)))
            rp = plan.repos[0]
            assert rp.ok and len(rp.files) == 500 and len(rp.listing.files) == 2_502  # type: ignore[union-attr]
            assert any("a mirror's bug" in n and upstream.url.split("//")[1] in n for n in rp.notes)
            result = Downloader(settings).run(plan)
            assert result.ok
            folder = repo_dir(tmp_path, "dataset", "acme/many-files")
            assert tree_bytes(folder) == {p: b for p, b in hub_bytes(mirror, "dataset", "acme/many-files").items()
                                          if p.startswith("data/part4/")}
            assert mirror.stats.requests["tree"] == 3 and mirror.stats.requests["cdn-auth"] == 0
        assert sum(upstream.stats.requests.values()) == 0  # never contacted, so never saw the token
    finally:
        upstream.stop()


def test_a_file_over_the_libraries_http_limit_still_downloads(root: Path, hub: LocalHub,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """http_get refuses a fresh download over MAX_HTTP_DOWNLOAD_SIZE (50 GB); here the limit is made smaller than
    big.bin, which must download all the same."""
    settings = Settings(root=root, endpoint=hub.url, min_free=0)
    plan = make_plan(settings, [RepoRef(*BIG)])
    monkeypatch.setattr(constants, "MAX_HTTP_DOWNLOAD_SIZE", 1_000)
    result = Downloader(settings).run(plan)
    assert result.ok and tree_bytes(repo_dir(root, *BIG)) == hub_bytes(hub, *BIG)


def test_a_gzip_body_that_arrives_damaged_is_retried(root: Path) -> None:
    repo = HubRepo("acme/text", "model", [HubFile("notes.txt", b"la " * 5000, lfs=False)])
    with LocalHub([repo]) as hub:
        hub.inject(Fault("reset", "notes.txt", after_bytes=4000))
        settings = Settings(root=root, endpoint=hub.url, min_free=0, read_timeout=2)
        result = Downloader(settings).run(make_plan(settings, [RepoRef("model", "acme/text")]))
        assert result.ok, result
        assert (repo_dir(root, "model", "acme/text") / "notes.txt").read_bytes() == b"la " * 5000


def test_reopening_the_app_spends_no_api_call_and_r_lists_again(tmp_path: Path, catalog_hub: LocalHub) -> None:
    def api_calls() -> int:
        return sum(catalog_hub.stats.requests[k] for k in ("info", "tree", "paths-info"))

    async def session(press_refresh: bool) -> None:
        app = make_app(Settings(root=tmp_path, endpoint=catalog_hub.url, min_free=0, **sources_settings()))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: all(e.plan is not None for e in app.entries.values()))
            assert app.entries["model:facebook/musicgen-small"].size_cell() == "114.0 KiB"
            if press_refresh:
                before = api_calls()
                await pilot.press("r")
                await until(pilot, lambda: all(e.plan is not None for e in app.entries.values())
                            and api_calls() >= before + len(app.entries))

    asyncio.run(session(False))
    first = api_calls()
    assert first >= 21  # at least one call per catalog repo
    catalog_hub.stats.requests.clear()
    asyncio.run(session(False))
    assert api_calls() == 0  # every size from the listing cache
    asyncio.run(session(True))
    assert api_calls() >= 21
