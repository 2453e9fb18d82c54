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

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def timed(cmd: list[str], e: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall time of one command, started with no dirty page left to write back (each side pays its own)."""
    os.sync()
    t = time.perf_counter()
    p = subprocess.run(cmd, env=e, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({p.returncode}): {p.stderr[-400:]}")
    return time.perf_counter() - t


def median(values: list[float]) -> float:
    return statistics.median(values)


def restore(tmp: Path, size: int, runs: int) -> None:
    store = tmp / "store"
    build_model(store, size)
    with LocalHub(load_store(store), realistic=False) as hub:
        e = env(None, HF_ENDPOINT=hub.url)
        first = tmp / "first"
        timed([MGT, "download", "--model", MODEL, "--run", "--root", str(first)], e)
        timed([MGT, "lock", "--root", str(first)], e)
        locked = sum(f.stat().st_size for f in (first / "models" / "acme" / "acme_carry").rglob("*")
                     if f.is_file() and ".cache" not in f.parts)
        plain, lock, served = [], [], []
        for i in range(runs):
            for kind, times in (("plain", plain), ("lock", lock)):
                root = tmp / f"{kind}-{i}"
                hub.stats = HubStats()
                cmd = ["--model", MODEL] if kind == "plain" else ["--lock", str(first / "musicgen.lock")]
                times.append(timed([MGT, "download", *cmd, "--run", "--root", str(root)], e))
                if kind == "lock":
                    served.append(sum(hub.stats.bytes_served.values()))
                shutil.rmtree(root)
    print(f"restore of {locked / 1e9:.2f} GB from its lock: {max(served) / locked:.3f}× the locked bytes served "
          f"(goal ≤ 1.01×); {median(lock):.2f} s against a plain download {median(plain):.2f} s: "
          f"{median(lock) / median(plain):.2f}× (goal ≤ 1.05×)", flush=True)
    carry(tmp, first, runs)


def carry(tmp: Path, root: Path, runs: int) -> None:
    e = env(None, HF_ENDPOINT="http://127.0.0.1:9", MUSICGEN_SOURCES_ENDPOINT="http://127.0.0.1:9")
    out = tmp / "out"
    results: dict[str, list[float]] = {k: [] for k in ("pack", "tar-c", "unpack", "tar-x", "pack-dir", "unpack-dir")}
    for _ in range(runs):
        out.mkdir()
        results["tar-c"].append(timed(["tar", "-cf", str(out / "ref.tar"), "models"], cwd=root))
        results["pack"].append(timed([MGT, "pack", "--output", str(out / "ws.tar"), "--root", str(root)], e))
        (out / "x").mkdir()
        results["tar-x"].append(timed(["tar", "-xf", str(out / "ref.tar"), "-C", str(out / "x")]))
        results["unpack"].append(timed([MGT, "unpack", str(out / "ws.tar"), "--root", str(out / "u")], e))
        results["pack-dir"].append(timed([MGT, "pack", "--output", str(out / "dir"), "--root", str(root)], e))
        results["unpack-dir"].append(timed([MGT, "unpack", str(out / "dir"), "--root", str(out / "ud")], e))
        subprocess.run([MGT, "verify", "--lock", str(out / "u" / "musicgen.lock"), "--root", str(out / "u")],
                       env=e, check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(out)
    m = {k: median(v) for k, v in results.items()}
    print(f"pack to tar parts, every sha256 checked: {m['pack']:.2f} s, tar -cf {m['tar-c']:.2f} s: "
          f"{m['pack'] / m['tar-c']:.2f}× (goal ≤ 1.3×)", flush=True)
    print(f"unpack of the tar parts, every part and sha256 checked: {m['unpack']:.2f} s, tar -xf {m['tar-x']:.2f} s: "
          f"{m['unpack'] / m['tar-x']:.2f}× (goal ≤ 1.3×)", flush=True)
    print(f"pack and unpack as a folder of hard links (same filesystem), every sha256 checked: {m['pack-dir']:.2f} s "
          f"and {m['unpack-dir']:.2f} s: {m['pack-dir'] / m['tar-c']:.2f}× tar -cf, {m['unpack-dir'] / m['tar-x']:.2f}× "
          "tar -xf", flush=True)


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
    quick = "--quick" in sys.argv
    size, files, runs = (64 << 20, 2_000, 1) if quick else (2_000_000_000, 100_000, 5)
    with tempfile.TemporaryDirectory(prefix="carry-") as tmp:
        restore(Path(tmp), size, runs)
        verify_lock(Path(tmp), files, runs)


if __name__ == "__main__":
    main()
