"""Shared fixtures: one local Hub per session with the test repos, and a CLI runner against it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main
from localhub import HubFile, HubRepo, HubStats, LocalHub
from localhub.hosts import PublisherHosts
from localhub.offhub import catalog_toml, offhub_standins

TOKEN = "hf_testtoken_DoNotLeak_8c1f2e"
NO_ACCESS = "hf_noaccess_DoNotLeak_41aa"  # valid, never asked for the gated repos
PENDING = "hf_pending_DoNotLeak_77c3"  # valid, asked for access to the gated repos, not yet approved
BIG_SIZE = 4 * 1024 * 1024


def blob(seed: str, size: int) -> bytes:
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 128
    return bytes(out[:size])


def tiny_model() -> HubRepo:
    return HubRepo("acme/tiny-model", "model", [
        HubFile("README.md", b"---\nlicense: mit\n---\n# tiny\n"),
        HubFile("config.json", b'{"model_type": "musicgen"}\n'),
        HubFile("empty.txt", b""),
        HubFile("weights/model.safetensors", blob("st", 300_000)),
        HubFile("state_dict.bin", blob("sd", 1_200_000)),
        HubFile("données/mélodie €.json", '{"é": "ü"}\n'.encode()),
        HubFile("deep/a/b/c/notes.txt", b"nested\n"),
        HubFile("音楽/曲.txt", "音楽\n".encode()),
    ])


def many_files() -> HubRepo:
    files = [HubFile(f"data/part{i // 500}/{i:05d}.txt", b"row %d\n" % i) for i in range(2_500)]
    files.append(HubFile("README.md", b"---\npretty_name: many\n---\n\n# Many files\n\nA dataset with 2,500 rows.\n"))
    files.append(HubFile("data/big.bin", blob("many-big", 50_000)))
    return HubRepo("acme/many-files", "dataset", files)


def test_repos() -> list[HubRepo]:
    return [
        tiny_model(),
        many_files(),
        HubRepo("acme/gated-model", "model", [HubFile("config.json", b"{}\n"), HubFile("w.bin", blob("g", 20_000))],
                gated=True, access={NO_ACCESS: "none", PENDING: "pending"}),
        HubRepo("acme/closed-set", "dataset", [HubFile("a.csv", b"a\n1\n")], gated=True, listing_refused=True,
                access={NO_ACCESS: "none", PENDING: "pending"}),
        HubRepo("acme/hostile", "model", [
            HubFile("ok.txt", b"fine\n"), HubFile("../escape.txt", b"evil\n"), HubFile("/etc/abs.txt", b"evil\n"),
            HubFile("Case.txt", b"one\n"), HubFile("case.txt", b"two\n"), HubFile("x" * 300 + ".txt", b"long\n"),
        ]),
        HubRepo("acme/big-file", "model", [HubFile("big.bin", blob("big", BIG_SIZE)), HubFile("small.txt", b"s\n")]),
    ]


@pytest.fixture(scope="session", autouse=True)
def _publisher_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublisherHosts]:
    """Look-alikes of the off-Hub publishers' hosts, with stand-ins of the six catalog ids the Hub lacks, for the
    whole session: ``MUSICGEN_SOURCES_ENDPOINT`` points every off-Hub URL at them (no test reaches the internet)
    and ``MUSICGEN_CATALOG`` gives FMA and demucs the stand-ins' checksums."""
    files, records = offhub_standins()
    catalog = tmp_path_factory.mktemp("sources") / "standins.toml"
    catalog.write_text(catalog_toml(files))
    with PublisherHosts(files, records) as hosts:
        os.environ["MUSICGEN_SOURCES_ENDPOINT"], os.environ["MUSICGEN_CATALOG"] = hosts.url, str(catalog)
        yield hosts


def sources_settings() -> dict[str, str]:
    """The session's look-alike hosts, for a test that makes its ``Settings`` itself."""
    return {"sources_endpoint": os.environ.get("MUSICGEN_SOURCES_ENDPOINT", ""),
            "catalog_file": os.environ.get("MUSICGEN_CATALOG", "")}


@pytest.fixture(scope="session")
def _session_hub() -> Iterator[LocalHub]:
    with LocalHub(test_repos(), tokens={TOKEN, NO_ACCESS, PENDING}) as hub:
        yield hub


def fresh(hub: LocalHub) -> Iterator[LocalHub]:
    """A session's Hub for one test: no faults, fresh counters, and no faults left behind."""
    hub.clear_faults()
    hub.stats = HubStats()
    yield hub
    hub.clear_faults()


@pytest.fixture
def hub(_session_hub: LocalHub) -> Iterator[LocalHub]:
    yield from fresh(_session_hub)


@pytest.fixture
def root(tmp_path: Path, hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace root, with the environment pointing at the local Hub and no token anywhere."""
    ws = point_at(hub, tmp_path, monkeypatch)
    monkeypatch.setenv("MUSICGEN_READ_TIMEOUT", "2")
    return ws


def point_at(hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new empty root ``tmp_path/ws``; the environment pointing at ``hub``, with no token, no offline mode and
    no runtime view of an earlier shell anywhere."""
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "MUSICGEN_ROOT", "HF_HUB_CACHE", "TORCH_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("MUSICGEN_MIN_FREE", "0")
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.out)


@pytest.fixture
def cli(root: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``musicgen-tui ARGS --root <root>`` in-process; returns code, stdout, stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([*args, "--root", str(root)])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def bin_path(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def subprocess_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env.update(MUSICGEN_ROOT=str(root), **extra)
    return env


def run_bin(args: list[str], root: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=subprocess_env(root, **extra), timeout=120)


def eventually(cond: Callable[[], object], timeout: float = 30) -> None:
    """Wait until ``cond()`` holds (polled every 50 ms), or fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition never met")
        time.sleep(0.05)


def repo_dir(root: Path, repo_type: str, repo_id: str) -> Path:
    org, name = repo_id.split("/")
    return root / "models" / org / f"{org}_{name}" if repo_type == "model" else root / "datasets" / f"{org}_{name}"


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` except huggingface_hub's ``.cache``, as path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and ".cache" not in p.relative_to(folder).parts}


@pytest.fixture
def svc_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root whose services end 2 s after they have nothing to do (``_no_service_left`` stops any left running)."""
    monkeypatch.setenv("MUSICGEN_SERVICE_IDLE", "2")
    return root


def service_status(root: Path) -> dict:  # type: ignore[type-arg]
    """The root's service's status, or ``not running``."""
    from core.service import client as service

    client = service.connect(root)
    if client is None:
        return {"service": "not running", "files": []}
    with client:
        return client.raw({"op": "status"})


@pytest.fixture(autouse=True)
def _no_service_left(tmp_path: Path) -> Iterator[None]:
    """A download service a test started (the app starts one for its downloads) ends with the test: its slow
    bodies would count in the next test's served bytes, and its root is about to go."""
    yield
    from core.service.client import stop

    for root in (tmp_path, tmp_path / "ws"):
        with contextlib.suppress(Exception):  # a teardown: the test's own failure is the one to see
            stop(root, wait=30)


@pytest.fixture(scope="session")
def _catalog_hub() -> Iterator[LocalHub]:
    """Stand-ins of every catalog repo (musicgen-medium gated), plus one extra dataset to add by id."""
    from localhub.standins import catalog_standins

    repos = catalog_standins()
    for r in repos:
        if r.repo_id == "facebook/musicgen-medium":
            r.gated = True
    repos.append(HubRepo("acme/extra-set", "dataset", [HubFile("README.md", b"# extra\n"),
                                                        HubFile("data/a.csv", b"a,b\n1,2\n")]))
    with LocalHub(repos, tokens={TOKEN}) as hub:
        yield hub


@pytest.fixture
def catalog_hub(_catalog_hub: LocalHub) -> Iterator[LocalHub]:
    yield from fresh(_catalog_hub)
