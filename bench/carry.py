"""A workspace reproduced and carried, measured (issue 31's goals, docs/PERFORMANCE.md "Lock, restore, pack"):

- ``download --lock --run`` into an empty root against a plain ``download --run`` of the same repo: bytes the
  local Hub served against the locked bytes, and the time;
- ``pack`` (tar parts, and a folder of hard links) and ``unpack`` of 2 GB, every file's sha256 checked, against
  ``tar -cf`` / ``tar -xf`` of the same files;
- ``verify --lock`` of an unchanged 100,000-file root against ``du -sb``.

    .venv/bin/python bench/carry.py             # 2 GB, 100,000 files (make bench)
    .venv/bin/python bench/carry.py --quick     # 64 MB, 2,000 files (make bench-quick keeps it working)

Medians of 5 runs, each command started after ``sync`` (1 with --quick); prints the ratios, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from run import MGT, env  # bench/ is scripts, not a package
from scale import REPO, build_store, downloaded, measured

from localhub import HubStats, LocalHub
from localhub.repos import load_store

MODEL = "acme/carry"


def build_model(store: Path, size: int) -> None:
    """``models/acme/carry``: 5 weight files sharing ``size`` bytes of random data, and two small files."""
    base = store / "models" / "acme" / "carry"
    mark = store / f".complete-{size}"
    if mark.exists():
        return
    shutil.rmtree(store, ignore_errors=True)
    base.mkdir(parents=True)
    piece = size // 5
    for i in range(5):
        with open(base / f"model-{i:05d}-of-00005.safetensors", "wb") as f:
            for _ in range(0, piece, 16 << 20):
                f.write(os.urandom(min(16 << 20, piece)))
    (base / "config.json").write_text('{"model_type": "musicgen"}\n')
    (base / "README.md").write_text("# carry\n")
    mark.touch()


DROP_CACHES = Path("/proc/sys/vm/drop_caches")
DROP = [False]  # --drop-caches


def timed(cmd: list[str], e: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall time of one command, started with no dirty page left to write back (each side pays its own) and, with
    ``--drop-caches`` (as root), no clean page to reclaim either."""
    os.sync()
    if DROP[0]:
        DROP_CACHES.write_text("1\n")
    t = time.perf_counter()
    p = subprocess.run(cmd, env=e, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({p.returncode}): {p.stderr[-400:]}")
    return time.perf_counter() - t


def restore(tmp: Path, size: int, runs: int, measure: bool) -> Path:
    """The model downloaded and locked in ``tmp/first``; with ``measure``, restores from its lock against plain
    downloads."""
    store = tmp / "store"
    build_model(store, size)
    with LocalHub(load_store(store), realistic=False) as hub:
        e = env(None, HF_ENDPOINT=hub.url)
        first = tmp / "first"
        timed([MGT, "download", "--model", MODEL, "--run", "--root", str(first)], e)
        timed([MGT, "lock", "--root", str(first)], e)
        locked = sum(f.stat().st_size for f in (first / "models" / "acme" / "acme_carry").rglob("*")
                     if f.is_file() and ".cache" not in f.parts)
        plain: list[float] = []
        lock: list[float] = []
        served: list[int] = []
        for i in range(runs if measure else 0):
            for kind, times in (("plain", plain), ("lock", lock)):
                root = tmp / f"{kind}-{i}"
                hub.stats = HubStats()
                cmd = ["--model", MODEL] if kind == "plain" else ["--lock", str(first / "musicgen.lock")]
                times.append(timed([MGT, "download", *cmd, "--run", "--root", str(root)], e))
                if kind == "lock":
                    served.append(sum(hub.stats.bytes_served.values()))
                shutil.rmtree(root)
    if measure:
        print(f"restore of {locked / 1e9:.2f} GB from its lock: {max(served) / locked:.3f}× the locked bytes served "
              f"(goal ≤ 1.01×); {median(lock):.2f} s against a plain download {median(plain):.2f} s: "
              f"{median(lock) / median(plain):.2f}× (goal ≤ 1.05×)", flush=True)
    return first


def carry(tmp: Path, root: Path, runs: int) -> None:
    """Each side timed on the same files, what it does not need removed first (a full page cache makes whoever
    comes later pay for the earlier one's pages), the two sides' order swapped from run to run."""
    e = env(None, HF_ENDPOINT="http://127.0.0.1:9", MUSICGEN_SOURCES_ENDPOINT="http://127.0.0.1:9")
    out = tmp / "out"
    results: dict[str, list[float]] = {k: [] for k in ("pack", "tar-c", "unpack", "tar-x", "pack-dir", "unpack-dir")}
    for i in range(runs):
        out.mkdir()
        steps = {
            "tar-c": lambda: timed(["tar", "-cf", str(out / "ref.tar"), "models"], cwd=root),
            "pack": lambda: timed([MGT, "pack", "--output", str(out / "ws.tar"), "--root", str(root)], e),
            "tar-x": lambda: timed(["tar", "-xf", str(out / "ref.tar"), "-C", str(out / "x")]),
            "unpack": lambda: timed([MGT, "unpack", str(out / "ws.tar"), "--root", str(out / "u")], e),
        }
        for pair in (("tar-c", "pack"), ("tar-x", "unpack")):
            for name in pair if i % 2 else reversed(pair):
                if name == "tar-x":
                    (out / "x").mkdir()
                results[name].append(steps[name]())
            shutil.rmtree(out / "x", ignore_errors=True)
        subprocess.run([MGT, "verify", "--lock", str(out / "u" / "musicgen.lock"), "--root", str(out / "u")],
                       env=e, check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(out)
        out.mkdir()
        results["pack-dir"].append(timed([MGT, "pack", "--output", str(out / "dir"), "--root", str(root)], e))
        results["unpack-dir"].append(timed([MGT, "unpack", str(out / "dir"), "--root", str(out / "ud")], e))
        shutil.rmtree(out)
    m = {k: median(v) for k, v in results.items()}
    low = {k: min(v) for k, v in results.items()}
    print(f"pack to tar parts, every sha256 checked: {m['pack']:.2f} s, tar -cf {m['tar-c']:.2f} s: "
          f"{m['pack'] / m['tar-c']:.2f}× (goal ≤ 1.3×); fastest runs {low['pack']:.2f} s and {low['tar-c']:.2f} s: "
          f"{low['pack'] / low['tar-c']:.2f}×", flush=True)
    print(f"unpack of the tar parts, every part and sha256 checked: {m['unpack']:.2f} s, tar -xf {m['tar-x']:.2f} s: "
          f"{m['unpack'] / m['tar-x']:.2f}× (goal ≤ 1.3×); fastest runs {low['unpack']:.2f} s and "
          f"{low['tar-x']:.2f} s: {low['unpack'] / low['tar-x']:.2f}×", flush=True)
    print(f"pack and unpack as a folder of hard links (same filesystem), every sha256 checked: {m['pack-dir']:.2f} s "
          f"and {m['unpack-dir']:.2f} s: {m['pack-dir'] / m['tar-c']:.2f}× tar -cf, "
          f"{m['unpack-dir'] / m['tar-x']:.2f}× tar -xf", flush=True)


def verify_lock(tmp: Path, files: int, runs: int) -> None:
    store, root = tmp / "vstore", tmp / "vroot"
    build_store(store, files)
    e = downloaded(store, root, REPO)
    timed([MGT, "lock", "--root", str(root)], e)
    timed([MGT, "verify", "--root", str(root)], e)  # the hash caches of a root verified once
    ours = median([measured([MGT, "verify", "--lock", str(root / "musicgen.lock"), "--root", str(root)], e).seconds
                   for _ in range(runs)])
    du = median([measured(["du", "-sb", str(root)]).seconds for _ in range(runs)])
    print(f"{files:>7,}  verify --lock of an unchanged root: {ours:.3f} s, du -sb {du:.3f} s: {ours / du:.2f}× "
          "(goal ≤ 2.5×)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="64 MB and 2,000 files, one run")
    parser.add_argument("--only", choices=("restore", "carry", "verify"), help="one of the three measures")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", help="where the roots and packs go (default: the system's temp folder); "
                                      "/dev/shm takes the disk out of the figures")
    parser.add_argument("--drop-caches", action="store_true",
                        help="as root: drop the clean page cache before each timed command")
    args = parser.parse_args()
    DROP[0] = args.drop_caches
    size, files, runs = (64 << 20, 2_000, 1) if args.quick else (2_000_000_000, 100_000, args.runs)
    with tempfile.TemporaryDirectory(prefix="carry-", dir=args.dir) as tmp:
        if args.only in (None, "restore", "carry"):
            first = restore(Path(tmp), size, runs, args.only in (None, "restore"))
            if args.only in (None, "carry"):
                carry(Path(tmp), first, runs)
        if args.only in (None, "verify"):
            verify_lock(Path(tmp), files, runs)


if __name__ == "__main__":
    main()
