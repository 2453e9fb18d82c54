"""Extracting a tar.gz with every member's sha256 (``core.archive.extract``), against ``tar -xzf`` alone.

    .venv/bin/python bench/extract.py            # 1 GB of tar.gz, 100,000 members (make bench)
    .venv/bin/python bench/extract.py --quick    # 20 MB, 2,000 members (make bench-quick keeps it working)

The members hold random bytes (so the archive is as big as what it unpacks, as audio is). Prints both times, their
ratio, and the extraction's peak memory (GNU time, of a process that only extracts); asserts nothing. The issue's
bar: at most 1.25x tar's time, at most 150 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import best, measured  # bench/ is scripts, not a package

HERE = Path(__file__).resolve().parents[1]
EXTRACT = """
import sys
from pathlib import Path
from core.archive.extract import extract
root = Path(sys.argv[2])
extract(Path(sys.argv[1]), root / "tree", root / "tree.sha256", root)
"""


def build(archive: Path, total: int, members: int) -> None:
    if archive.exists():
        return
    src = archive.parent / "src"
    size = total // members
    chunk = os.urandom(size * 64)
    for i in range(members):
        d = src / f"{i // 1000:03d}"
        if i % 1000 == 0:
            d.mkdir(parents=True)
        k = (i * 7919) % 64
        (d / f"{i:06d}.wav").write_bytes(chunk[k * size:(k + 1) * size] + i.to_bytes(8, "little"))
    subprocess.run(["tar", "-czf", str(archive), "-C", str(src), "."], check=True)
    shutil.rmtree(src)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20 MB, 2,000 members, one run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    total, members, runs = (20 << 20, 2_000, 1) if args.quick else (1 << 30, 100_000, args.runs)
    with tempfile.TemporaryDirectory(prefix="extract-bench-") as tmp:
        archive = Path(tmp) / "set.tar.gz"
        build(archive, total, members)
        out = Path(tmp) / "out"

        def fresh() -> Path:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            return out

        tar = best(runs, lambda: measured(["tar", "-xzf", str(archive), "-C", str(fresh())]))
        ours = best(runs, lambda: measured([sys.executable, "-c", EXTRACT, str(archive), str(fresh())],
                                           dict(os.environ, PYTHONPATH=str(HERE))))
        with open(out / "tree.sha256", encoding="utf-8") as manifest:
            lines = sum(1 for _ in manifest)
    mb = total / (1 << 20)
    print(f"extract {mb:.0f} MB tar.gz, {members:,} members, every member hashed (sha256), median of {runs}:")
    print(f"  tar -xzf alone        {tar.seconds:7.2f} s")
    print(f"  musicgen-tui extract  {ours.seconds:7.2f} s   ratio {ours.seconds / tar.seconds:.2f}x (bar: 1.25x)  "
          f"peak {ours.rss_mb:.0f} MB (bar: 150 MB)  manifest lines {lines:,}  ({mb / ours.seconds:.0f} MB/s)")


if __name__ == "__main__":
    main()
