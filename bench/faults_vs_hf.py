"""Side by side: `hf download` and `musicgen-tui download` on the same faults of the same local Hub.

    .venv/bin/python bench/faults_vs_hf.py

Prints a Markdown table (the one in docs/RELIABILITY.md): for each fault, what each tool's exit code was,
whether the file on disk is byte-identical, and how many bytes the server sent for it. These are facts about
one run on one machine, not assertions: no test depends on them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localhub import Fault, HubFile, HubRepo, HubStats, LocalHub
from localhub.standins import _bytes

SIZE = 3 * 1024 * 1024
DATA = _bytes("faults-vs-hf", SIZE)
BIN = Path(sys.executable).parent
TOKEN = "hf_compare_token_0123456789"
PENDING = "hf_compare_pending_0123456789"


def tools(repo: str, dest: Path) -> dict[str, list[str]]:
    return {
        "hf download": [str(BIN / "hf"), "download", repo, "--local-dir", str(dest)],
        "musicgen-tui": [str(BIN / "musicgen-tui"), "download", "--model", repo, "--run", "--root", str(dest)],
    }


def target(tool: str, dest: Path, repo: str) -> Path:
    org, name = repo.split("/")
    return dest / "weights.bin" if tool == "hf download" else dest / "models" / org / f"{org}_{name}" / "weights.bin"


def env(hub: LocalHub, **extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    out.update(HF_ENDPOINT=hub.url, HF_HUB_DISABLE_XET="1", HF_HUB_DOWNLOAD_TIMEOUT="3", MUSICGEN_READ_TIMEOUT="3",
               MUSICGEN_MIN_FREE="0", HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return out


def run_case(hub: LocalHub, repo: str, tool: str, setup: Callable[[], None], killed: bool = False,
             **extra: str) -> str:
    dest = Path(tempfile.mkdtemp(prefix="cmp-"))
    cmd = tools(repo, dest)[tool]
    hub.clear_faults()
    hub.stats = HubStats()
    setup()
    started = time.monotonic()
    if killed:
        proc = subprocess.Popen(cmd, env=env(hub, **extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while hub.stats.bytes_served["weights.bin"] < SIZE // 2 and time.monotonic() - started < 30:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        hub.clear_faults()
    p = subprocess.run(cmd, env=env(hub, **extra), capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    out = target(tool, dest, repo)
    ok = out.is_file() and out.read_bytes() == DATA
    served = hub.stats.bytes_served["weights.bin"] / SIZE
    lines = [ln.strip() for ln in (p.stdout + p.stderr).splitlines()]
    said = [ln for ln in lines if any(w in ln for w in ("gated repo", "Error", "error:", "FAILED", "mismatch",
                                                         "requires approval"))]
    last = re.sub(r"\x1b\[[0-9;]*m", "", (said or [ln for ln in lines if ln] or [""])[0]).replace("|", "/")[:90]
    verdict = "identical" if ok else ("**corrupt file left**" if out.is_file() else "no file")
    shutil.rmtree(dest, ignore_errors=True)
    note = f"; says: `{last}`" if p.returncode and last else ""
    return f"exit {p.returncode}, {verdict}, {served:.2f}× served, {seconds:.1f} s{note}"


def main() -> None:
    repo = HubRepo("acme/compare", "model", [HubFile("weights.bin", DATA), HubFile("config.json", b"{}\n")])
    gated = HubRepo("acme/gated-compare", "model", [HubFile("weights.bin", DATA)], gated=True,
                    access={PENDING: "pending"})
    with LocalHub([repo, gated], tokens={TOKEN, PENDING}) as hub:
        def fault(**kw: object) -> Callable[[], None]:
            """A setup that injects a fresh fault (faults are used up as they fire)."""
            return lambda: hub.inject(Fault(path="weights.bin", **kw))  # type: ignore[arg-type]

        def api(**kw: object) -> Callable[[], None]:
            return lambda: hub.inject(Fault(path="/api/models/acme/compare*", at="api", **kw))  # type: ignore[arg-type]

        def both(*setups: Callable[[], None]) -> Callable[[], None]:
            return lambda: [s() for s in setups] and None

        cases: list[tuple[str, str, Callable[[], None], bool]] = [
            ("connection reset at 1.5 MB of 3 MB", "acme/compare", fault(kind="reset", after_bytes=SIZE // 2), False),
            ("one HTTP 500", "acme/compare", fault(kind="status", status=500), False),
            ("three HTTP 503 in a row", "acme/compare", fault(kind="status", times=3, status=503), False),
            ("HTTP 429 with Retry-After: 1", "acme/compare", fault(kind="status", status=429, retry_after=1), False),
            ("corrupted body (one byte flipped)", "acme/compare", fault(kind="corrupt", after_bytes=SIZE // 3),
             False),
            ("stall at 1 MB for 8 s (read timeout 3 s)", "acme/compare",
             fault(kind="stall", after_bytes=1 << 20, delay=8), False),
            ("SIGKILL at half, then run again", "acme/compare", fault(kind="slow", delay=0.01), True),
            ("gated repo, no token", "acme/gated-compare", lambda: None, False),
            ("CDN link expired (403) on the first GET", "acme/compare", fault(kind="expire"), False),
            ("reset at half, then the CDN link has expired", "acme/compare",
             both(fault(kind="reset", after_bytes=SIZE // 2), fault(kind="expire")), False),
            ("API 429 twice, `RateLimit: r=0;t=2`, no Retry-After", "acme/compare",
             api(kind="status", status=429, reset_in=2, times=2), False),
            ("API answer stalls after half its body for 8 s", "acme/compare", api(kind="stall", delay=8), False),
        ]
        print("| fault | `hf download` | `musicgen-tui download` |")
        print("|---|---|---|")
        for name, repo_id, setup, killed in cases:
            cells = [run_case(hub, repo_id, tool, setup, killed) for tool in ("hf download", "musicgen-tui")]
            print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)
        name = "gated repo, access requested and pending"
        cells = [run_case(hub, "acme/gated-compare", tool, lambda: None, False, HF_TOKEN=PENDING)
                 for tool in ("hf download", "musicgen-tui")]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)
    print(f"| mirror whose next-page `Link` names another host (1,500 files) | {mirror_case('hf download')} | "
          f"{mirror_case('musicgen-tui')} |")


def mirror_case(tool: str) -> str:
    """hf-mirror writes huggingface.co into the tree's ``Link``: who follows it, with the token?"""
    files = [HubFile(f"d/{i:04d}.txt", b"%d\n" % i) for i in range(1_500)]
    repos = [HubRepo("acme/many", "dataset", files)]
    with LocalHub(repos, tokens={TOKEN}) as upstream, \
            LocalHub(repos, tokens={TOKEN}, link_host=upstream.url) as mirror:
        dest = Path(tempfile.mkdtemp(prefix="cmp-"))
        cmd = {"hf download": [str(BIN / "hf"), "download", "acme/many", "--repo-type", "dataset",
                               "--local-dir", str(dest)],
               "musicgen-tui": [str(BIN / "musicgen-tui"), "download", "--dataset", "acme/many", "--run",
                                "--root", str(dest)]}[tool]
        started = time.monotonic()
        p = subprocess.run(cmd, env=env(mirror, HF_TOKEN=TOKEN), capture_output=True, text=True, timeout=600)
        got = sum(1 for f in dest.rglob("*.txt"))
        shutil.rmtree(dest, ignore_errors=True)
        up = upstream.stats.requests
        return (f"exit {p.returncode}, {got} of 1,500 files, {time.monotonic() - started:.1f} s; the other host got "
                f"API requests: {up['api']} ({up['auth']} with the token)")


if __name__ == "__main__":
    main()
