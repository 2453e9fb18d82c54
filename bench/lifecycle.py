"""The workspace over time, measured: ``prune --dry-run`` over a 100,000-file root against ``du -sb`` of it.

    .venv/bin/python bench/lifecycle.py              # 100,000 files (make bench)
    .venv/bin/python bench/lifecycle.py --quick      # 2,000 (make bench-quick keeps it working)

``prune`` walks every repo folder; a data file is counted by its name, and only a candidate (a partial, a temp
file, a ``.metadata`` record: whether its file is still there) costs a stat, where ``du`` stats every file.
Prints the medians and their ratio; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import MGT  # bench/ is scripts, not a package
from scale import REPO, build_store, downloaded, measured, sizes_and_runs


def main() -> None:
    files, runs = sizes_and_runs(100_000)
    with tempfile.TemporaryDirectory(prefix="lifecycle-") as tmp:
        store, root = Path(tmp) / "store", Path(tmp) / "root"
        build_store(store, files)
        e = downloaded(store, root, REPO)  # nothing below may touch the network
        prune = sorted(measured([MGT, "prune", "--dry-run", "--root", str(root)], e).seconds for _ in range(runs))
        du = sorted(measured(["du", "-sb", str(root)]).seconds for _ in range(runs))
        ours, ref = prune[runs // 2], du[runs // 2]
        print(f"{files:>7,}  prune --dry-run of the root: {ours:.3f} s, du -sb of the root {ref:.3f} s: "
              f"{ours / ref:.2f}× (goal ≤ 2×)", flush=True)


if __name__ == "__main__":
    main()
