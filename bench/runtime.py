"""Ready to run, measured: the structural smoke check of a model with a 10 GB weight file once verify's hashes are
fresh (it reads headers, not weights: the bytes it reads are counted), and refreshing the HF-cache view of a
100,000-file dataset after a download that changed nothing, against ``du -sb`` of that dataset.

    .venv/bin/python bench/runtime.py              # 10 GB weights, 100,000 files (make bench)
    .venv/bin/python bench/runtime.py --quick      # 100 MB, 2,000 files (make bench-quick keeps it working)

The 10 GB file is sparse (its header is real, its weights zeros), so it costs no disk; verify hashes it once,
which is what "verify's hashes are fresh" means. Prints figures and goals; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from run import MGT, Hub, env  # bench/ is scripts, not a package
from scale import REPO, build_store, measured

from core.catalog import default_catalog
from core.local.record import Record, write_record
from core.local.verify import verify
from core.remote import Listing, RemoteFile
from core.repos import RepoRef
from core.runtime.smoke import smoke
from core.runtime.views import refresh_views
from core.sources import load_sources


def rchar() -> int:
    """Bytes this process has read through read() so far (``/proc/self/io``), cache hits included."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def big_model(root: Path, gigabytes: float) -> RepoRef:
    """``acme/big``: a T5-typed config and one sparse safetensors file of ``gigabytes`` GB in ten tensors."""
    ref = RepoRef("model", "acme/big")
    folder = ref.local_dir(root)
    folder.mkdir(parents=True)
    layers = 10
    per = int(gigabytes * 1e9 / layers / 4)
    tensors, at = {}, 0
    for name, shape in [("shared.weight", [64, 16])] + [(f"encoder.block.{i}.weight", [per]) for i in range(layers)]:
        n = 4 * (shape[0] * (shape[1] if len(shape) > 1 else 1))
        tensors[name] = {"dtype": "F32", "shape": shape, "data_offsets": [at, at + n]}
        at += n
    header = json.dumps(tensors).encode()
    weights = folder / "model.safetensors"
    with open(weights, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + at)
    config = json.dumps({"model_type": "t5", "num_layers": layers, "vocab_size": 64, "d_model": 16}).encode()
    (folder / "config.json").write_bytes(config)
    sha = hashlib.sha256()
    with open(weights, "rb") as f:
        while chunk := f.read(1 << 24):
            sha.update(chunk)
    blob = hashlib.sha1(b"blob %d\0" % len(config) + config).hexdigest()
    files = [RemoteFile("config.json", len(config), blob), RemoteFile("model.safetensors", weights.stat().st_size,
                                                                       "0" * 40, sha.hexdigest())]
    write_record(folder, Record(Listing(ref, "b" * 40, files), profile="transformers"))
    return ref


def structural(root: Path, gigabytes: float) -> None:
    ref = big_model(root, gigabytes)
    refresh_views(root)
    t = time.perf_counter()
    first = verify(root, [ref])
    hashed = time.perf_counter() - t
    catalog, sources = default_catalog(), load_sources()
    before, t = rchar(), time.perf_counter()
    result = smoke(root, [ref], catalog, sources, lambda refs: verify(root, refs).problems, load=False)
    took, read = time.perf_counter() - t, rchar() - before
    size = (ref.local_dir(root) / "model.safetensors").stat().st_size
    print(f"structural smoke of a {size / 1e9:.1f} GB weight file, hashes fresh: {took:.3f} s (goal ≤ 2 s), "
          f"{read / 1e6:.2f} MB read of {size / 1e9:.1f} GB; ok {result.ok} ({len(result.checks)} checks); "
          f"the first verify, which hashed it: {hashed:.1f} s ({first.ok})", flush=True)


def view_refresh(tmp: Path, files: int, runs: int) -> None:
    store, root = tmp / "store", tmp / "root"
    build_store(store, files)
    hub = Hub(store)
    try:
        measured([MGT, "download", "--dataset", REPO, "--run", "--root", str(root)], env(hub))  # builds the view
    finally:
        hub.stop()
    dataset = RepoRef("dataset", REPO).local_dir(root)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = refresh_views(root, [dataset])
        times.append(time.perf_counter() - t)
    du = sorted(measured(["du", "-sb", str(dataset)]).seconds for _ in range(runs))[runs // 2]
    ours = sorted(times)[runs // 2]
    print(f"{files:>7,}  HF-cache view refresh after a download that changed nothing: {ours:.3f} s "
          f"({done.kept:,} links kept, {done.linked} made), du -sb of the dataset {du:.3f} s: {ours / du:.2f}× "
          f"(goal ≤ 2×)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100 MB weights, 2,000 files, one run")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--gigabytes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    gigabytes, files, runs = (0.1, 2_000, 1) if args.quick else (args.gigabytes, args.files, args.runs)
    print(f"# ready to run, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}", flush=True)
    with tempfile.TemporaryDirectory(prefix="runtime-") as tmp:
        (Path(tmp) / "big").mkdir()
        structural(Path(tmp) / "big", gigabytes)
        view_refresh(Path(tmp), files, runs)


if __name__ == "__main__":
    main()
