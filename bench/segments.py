"""Segmented downloads, side by side (docs/PERFORMANCE.md, "Segmented downloads").

One 256 MiB file behind the local Hub's CDN redirect:
1. each connection capped at 8 MB/s (a CDN's or a mirror's per-connection limit): musicgen-tui against
   `hf download` (one stream), and against the ideal size ÷ (N × 8 MB/s);
2. no cap (loopback): ranges against one stream (`--connections 1`);
3. a reset mid-range, and a kill -9 mid-download then a new run: bytes served against the file's size, the file
   byte-identical and `hf cache verify` passing;
4. peak RSS of a run fetching two 384 MiB files in ranges;
5. the same file from the Zenodo look-alike (an off-Hub source), each connection capped at 8 MB/s: ranges against
   one stream (`--connections 1`), through the same engine.

Usage: python bench/segments.py [--quick] [--connections N]   (--quick: 32 MiB files, no hf download)"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import HERE, HF, MGT, env, write_random  # bench/ is scripts, not a package

sys.path.insert(0, str(HERE))
from localhub import Fault, HubFile, HubRepo, LocalHub

MiB = 1 << 20
LIMIT = 8_000_000  # bytes a second, each connection


def kept_random(path: Path, size: int) -> Path:
    """``size`` random bytes at ``path``, kept between runs."""
    if not (path.exists() and path.stat().st_size == size):
        write_random(path, size)
    return path


def repo(name: str, files: dict[str, Path]) -> HubRepo:
    return HubRepo(name, "model", [HubFile(p, source=src) for p, src in files.items()])


def run(cmd: list[str], e: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t, p


def ours(root: Path, name: str, e: dict[str, str], *extra: str) -> float:
    took, p = run([MGT, "download", "--model", name, "--run", "--root", str(root), *extra], e)
    if p.returncode:
        raise RuntimeError(p.stderr[-500:])
    return took


def same(a: Path, b: Path) -> bool:
    return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


def folder(root: Path, name: str) -> Path:
    org, rest = name.split("/")
    return root / "models" / org / f"{org}_{rest}"


def peak_rss_of(cmd: list[str], e: dict[str, str]) -> float:
    """MB: this child's peak RSS (its own ``ru_maxrss``, from ``wait4``)."""
    proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode})")
    return usage.ru_maxrss / 1024


def zenodo(work: Path, big: Path, n: int, e: dict[str, str]) -> None:
    """A 256 MiB file of a Zenodo record (the look-alike's API and its 302 to the file), each connection capped:
    ranges against one stream, same engine (the Hub does not carry the id: its source in a user catalog)."""
    from localhub.hosts import PublisherHosts

    catalog = work / "sources.toml"
    catalog.write_text('[[sources]]\nid = "acme/zset"\ntype = "dataset"\nchecks = "zenodo"\nzenodo = 424242\n'
                       '[sources.profiles]\nall = ["*"]\n')
    with PublisherHosts(records={424242: [HubFile("zset.bin", source=big)]}, conn_limit=LIMIT) as hosts:
        z = dict(e, MUSICGEN_SOURCES_ENDPOINT=hosts.url, MUSICGEN_CATALOG=str(catalog))
        times = {}
        for label, extra in (("ranges", ()), ("one stream", ("--connections", "1"))):
            root = work / f"zenodo-{label.replace(' ', '-')}"
            took, p = run([MGT, "download", "--dataset", "acme/zset", "--run", "--root", str(root), *extra], z)
            if p.returncode:
                raise RuntimeError(p.stderr[-500:])
            assert same(root / "datasets" / "acme_zset" / "zset.bin", big)
            times[label] = took
    print(f"5  Zenodo look-alike, capped at 8 MB/s a connection: ranges {times['ranges']:.1f} s, one stream "
          f"{times['one stream']:.1f} s ({times['ranges'] / times['one stream']:.2f}×, goal ≤ 0.25×); "
          f"md5 from the records API checked", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    n = args.connections
    size, pair = (32 * MiB, 48 * MiB) if args.quick else (256 * MiB, 384 * MiB)
    data = Path(tempfile.gettempdir()) / "musicgen-bench-segments"
    big = kept_random(data / f"one-{size}.bin", size)
    work = Path(tempfile.mkdtemp(prefix="musicgen-segments-"))
    print(f"# segmented downloads: {size // MiB} MiB, {n} connections, 2 cores, {time.strftime('%Y-%m-%d')}",
          flush=True)
    hub = LocalHub([repo("acme/big", {"model.safetensors": big})], conn_limit=LIMIT).start()
    e = env(None, HF_ENDPOINT=hub.url, MUSICGEN_CONNECTIONS=str(n), MUSICGEN_SEGMENT_MIN="16M")
    try:
        # 1. capped connections
        ideal = size / (n * LIMIT)
        t_ours = ours(work / "capped", "acme/big", e)
        assert same(folder(work / "capped", "acme/big") / "model.safetensors", big)
        line = f"1  capped at 8 MB/s a connection: ours {t_ours:.1f} s, ideal {ideal:.1f} s ({t_ours / ideal:.2f}× " \
               f"ideal, goal ≤ 1.5×)"
        if not args.quick:
            t_hf, p = run([HF, "download", "acme/big", "--local-dir", str(work / "hf")], e)
            assert p.returncode == 0, p.stderr[-300:]
            line += f"; hf download {t_hf:.1f} s ({t_ours / t_hf:.2f}×, goal ≤ 0.25×)"
        print(line, flush=True)
        # 2. loopback, no cap
        hub.conn_limit = None
        singles, ranged = [], []
        for _ in range(5):  # in turns, each from a synced disk: the page cache's writeback is not the tools'
            for times, extra in ((singles, ("--connections", "1")), (ranged, ())):
                shutil.rmtree(work / "loop", ignore_errors=True)
                os.sync()
                times.append(ours(work / "loop", "acme/big", e, *extra))
        one, many = statistics.median(singles), statistics.median(ranged)
        print(f"2  loopback, no cap (median of 5, in turns): ranges {many:.2f} s, one stream {one:.2f} s "
              f"({many / one:.2f}×, goal ≤ 1.05×); all: ranges {' '.join(f'{t:.2f}' for t in ranged)}, "
              f"one stream {' '.join(f'{t:.2f}' for t in singles)}", flush=True)
        # 3. a reset mid-range; a kill -9 mid-download, then a new run
        hub.inject(Fault("reset", "model.safetensors", after_bytes=size // n // 2, times=n))
        hub.stats.bytes_served.clear()
        ours(work / "reset", "acme/big", e)
        reset_served = hub.stats.bytes_served["model.safetensors"] / size
        hub.clear_faults()
        hub.conn_limit = LIMIT
        hub.stats.bytes_served.clear()
        root = work / "killed"
        proc = subprocess.Popen([MGT, "download", "--model", "acme/big", "--run", "--root", str(root)], env=e,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(ideal / 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        hub.conn_limit = None
        ours(root, "acme/big", e)
        killed_served = hub.stats.bytes_served["model.safetensors"] / size
        target = folder(root, "acme/big")
        ok = same(target / "model.safetensors", big)
        verify = subprocess.run([HF, "cache", "verify", "acme/big", "--local-dir", str(target)], env=e,
                                capture_output=True, text=True)
        print(f"3  served / size: reset mid-range {reset_served:.3f}×; kill -9 mid-download then a new run "
              f"{killed_served:.3f}× (goal ≤ 1.10×); byte-identical {ok}; hf cache verify exit "
              f"{verify.returncode}", flush=True)
        # 4. memory, two big files at once
        a, b = kept_random(data / f"a-{pair}.bin", pair), kept_random(data / f"b-{pair}.bin", pair)
        hub.add(repo("acme/pair", {"a.safetensors": a, "b.safetensors": b}))
        rss = peak_rss_of([MGT, "download", "--model", "acme/pair", "--run", "--root", str(work / "pair")], e)
        print(f"4  peak RSS fetching two {pair // MiB} MiB files in ranges: {rss:.1f} MB (goal ≤ 150)", flush=True)
        # 5. an off-Hub source: a Zenodo record's file, capped the same
        zenodo(work, big, n, e)
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
