"""A re-verify of an unchanged tree whose checksum files list small (git-blob) files, against ``du -sb``.

    .venv/bin/python bench/reverify.py              # 20,000 small text files (make bench)
    .venv/bin/python bench/reverify.py --quick      # 2,000 (make bench-quick keeps it working)

The dataset's files are small text files, which the Hub checks by git blob id, not sha256: a checksum file
(``checksums --min-size 0``) lists their sha256, which verify must know too. The first whole-root verify hashes
them once; the second, on the unchanged tree, should be a stat walk. Prints the second verify's time, ``du -sb``
on the same tree, and their ratio; asserts nothing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import MGT  # bench/ is scripts, not a package
from scale import PER_FOLDER, best, downloaded, measured, sizes_and_runs

REPO = "acme/notes"


def build_store(store: Path, files: int) -> None:
    """``datasets/acme/notes``: ``files`` text files of 40-400 bytes in folders of 1,000 (none is LFS)."""
    mark = store / ".complete"
    if mark.exists():
        return
    shutil.rmtree(store, ignore_errors=True)
    base = store / "datasets" / "acme" / "notes"
    for i in range(files):
        d = base / "notes" / f"{i // PER_FOLDER:03d}"
        if i % PER_FOLDER == 0:
            d.mkdir(parents=True)
        (d / f"{i:06d}.txt").write_text(f"note {i}\n" * (5 + i % 50))
    mark.touch()


def main() -> None:
    files, runs = sizes_and_runs(20_000)
    with tempfile.TemporaryDirectory(prefix="reverify-") as tmp:
        store, root = Path(tmp) / "store", Path(tmp) / "root"
        build_store(store, files)
        e = downloaded(store, root, REPO)  # nothing below may touch the network
        measured([MGT, "checksums", "--min-size", "0", "--root", str(root)], e)
        first = measured([MGT, "verify", "--root", str(root)], e)
        second = best(runs, lambda: measured([MGT, "verify", "--root", str(root)], e))
        du = min(measured(["du", "-sb", str(root)]).seconds for _ in range(runs))
        (root / "datasets" / "checksums.sha256").unlink()
        bare = best(runs, lambda: measured([MGT, "verify", "--root", str(root)], e))
        print(f"{files:>7,}  re-verify with checksum files (small files): first {first.seconds:.2f} s, "
              f"second {second.seconds:.2f} s ({second.rss_mb:.0f} MB), {second.seconds / du:.1f}× du -sb "
              f"({du:.3f} s); without the checksum file {bare.seconds:.2f} s", flush=True)


if __name__ == "__main__":
    main()
