"""``outdated`` over 100 local repos against a Hub that answers each API call after 50 ms: the calls run
concurrently, at most 8 at once (``core.hub.outdated.MAX_PARALLEL``), so 100 calls cost about 100 × 50 ms / 8.

    .venv/bin/python bench/outdated.py              # 100 repos (make bench)
    .venv/bin/python bench/outdated.py --quick      # 10 repos (make bench-quick keeps it working)

Prints the time of the command (a process, as a user runs it) and of the call alone, against the issue's bar
(1.5 s) and the serial cost (repos × 50 ms); asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.hub.download import Downloader
from core.hub.outdated import MAX_PARALLEL, outdated
from core.hub.planner import make_plan
from core.repos import RepoRef
from core.settings import Settings
from localhub import Fault, HubFile, HubRepo, LocalHub

DELAY = 0.05
MGT = str(Path(sys.executable).parent / "musicgen-tui")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 repos")
    parser.add_argument("--repos", type=int, default=100)
    args = parser.parse_args()
    n = 10 if args.quick else args.repos
    repos = [HubRepo(f"acme/model-{i:03d}", "model", [HubFile("config.json", b"{}\n"), HubFile("w.bin", bytes(2000))])
             for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="outdated-") as tmp, LocalHub(repos, realistic=False) as hub:
        root = Path(tmp)
        settings = Settings(root=root, endpoint=hub.url, min_free=0)
        plan = make_plan(settings, [RepoRef("model", r.repo_id) for r in repos])
        assert Downloader(settings).run(plan).ok
        hub.inject(Fault("slow", "*", times=10 ** 9, delay=DELAY, at="api"))
        t = time.perf_counter()
        rows = outdated(settings)
        call = time.perf_counter() - t
        env = {**os.environ, "HF_ENDPOINT": hub.url, "MUSICGEN_ROOT": str(root)}
        env.pop("HF_TOKEN", None)
        t = time.perf_counter()
        p = subprocess.run([MGT, "outdated", "--json"], env=env, capture_output=True, text=True)
        command = time.perf_counter() - t
    current = sum(1 for r in rows if r.status == "current")
    print(f"outdated over {n} repos, each API call answered after {DELAY * 1000:.0f} ms: the command {command:.2f} s "
          f"(exit {p.returncode}), the call {call:.2f} s (goal ≤ 1.5 s; serial {n * DELAY:.1f} s; {MAX_PARALLEL} at "
          f"once); {current} current", flush=True)


if __name__ == "__main__":
    main()
