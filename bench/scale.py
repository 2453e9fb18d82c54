"""Scale: a dataset of N small files through every command, side by side with the reference tools.

    .venv/bin/python bench/scale.py                      # 20,000 and 100,000 files (make bench)
    .venv/bin/python bench/scale.py --files 300000       # the largest case
    .venv/bin/python bench/scale.py --quick              # 2,000 files (make bench-quick keeps it working)

For each N it builds a stand-in dataset (small audio-like files, 1,000 per folder; kept in ``--data`` between
runs), serves it from the local Hub in its own process, and measures wall time and peak RSS of: download
(against ``hf download`` with the same workers), the first verify (``--full``: every file hashed) against
``sha256sum`` over two parallel halves, checksums against the same, the second verify of the unchanged tree
against the first and against ``du -sb`` plus interpreter start, and the inventory against ``du -sb``. It prints
one line per goal of docs/PERFORMANCE.md ("Scale") and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import HERE, HF, MGT, Hub, cpu_seconds, env, tmux, wait_screen  # bench/ is scripts, not a package

PER_FOLDER = 1000
REPO = "acme/scale"


@dataclass
class Run:
    seconds: float
    rss_mb: float


def build_store(store: Path, files: int) -> None:
    """``datasets/acme/scale``: ``files`` clips of 300-1,500 random bytes in folders of 1,000, plus a README.
    Built once per size: a finished store has a ``.complete`` mark."""
    mark = store / ".complete"
    if mark.exists():
        return
    shutil.rmtree(store, ignore_errors=True)
    base = store / "datasets" / "acme" / "scale"
    noise = os.urandom(1 << 20)
    for i in range(files):
        d = base / "clips" / f"{i // PER_FOLDER:03d}"
        if i % PER_FOLDER == 0:
            d.mkdir(parents=True)
        start = (i * 7919) % ((1 << 20) - 1600)
        (d / f"{i:06d}.wav").write_bytes(i.to_bytes(4, "big") + noise[start:start + 300 + i % 1200])
    (base / "README.md").write_text(f"# acme/scale\n\n{files:,} stand-in clips.\n")
    mark.touch()


def measured(cmd: list[str], e: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Wall time and peak RSS of one command. The RSS comes from GNU time, which forks it from a small
    process: Linux starts a forked child's peak RSS at its parent's, so ``wait4`` on a child of this script
    (which holds lists of 300,000 paths) would report this script's size, not the command's."""
    with tempfile.NamedTemporaryFile("r") as rss, tempfile.TemporaryFile() as err:  # a file: never blocks
        wrap = ["/usr/bin/time", "-f", "%M", "-o", rss.name] if Path("/usr/bin/time").exists() else []
        t = time.perf_counter()
        p = subprocess.run([*wrap, *cmd], env=e, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        took = time.perf_counter() - t
        if p.returncode not in (0, 1):
            err.seek(0)
            raise RuntimeError(f"{cmd[:3]} failed ({p.returncode}): {err.read().decode(errors='replace')[-400:]}")
        kb = rss.read().strip().splitlines()[-1:] if wrap else []
    return Run(took, int(kb[0]) / 1024 if kb and kb[0].isdigit() else float("nan"))


def downloaded(store: Path, root: Path, repo: str) -> dict[str, str]:
    """Download dataset ``repo`` of ``store`` into ``root`` from a local Hub; returns the environment of what
    follows, which may not touch the network."""
    hub = Hub(store)
    try:
        measured([MGT, "download", "--dataset", repo, "--run", "--root", str(root)], env(hub))
    finally:
        hub.stop()
    return env(None, HF_ENDPOINT="http://127.0.0.1:9")


def sizes_and_runs(default: int, quick: int = 2_000) -> tuple[int, int]:
    """``--files N`` (``default``), ``--runs R`` (5) and ``--quick`` (``quick`` files, one run) from argv."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=default)
    parser.add_argument("--quick", action="store_true", help=f"{quick:,} files, one run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    return (quick, 1) if args.quick else (args.files, args.runs)


def best(runs: int, fn: object) -> Run:
    """The median run by time (``fn`` returns a Run)."""
    got = sorted((fn() for _ in range(runs)), key=lambda r: r.seconds)  # type: ignore[operator]
    return got[len(got) // 2]


def sha256sum_halves(files: list[str]) -> float:
    """``sha256sum`` over the files in two parallel halves (both cores), reading names from a list."""
    lists = []
    for k in range(2):
        fd, name = tempfile.mkstemp(prefix="scale-list-")
        with os.fdopen(fd, "w") as f:
            f.write("\0".join(files[k::2]))
        lists.append(name)
    try:
        t = time.perf_counter()
        procs = [subprocess.Popen(["xargs", "-0", "-a", name, "sha256sum"], stdout=subprocess.DEVNULL)
                 for name in lists]
        for p in procs:
            p.wait()
        return time.perf_counter() - t
    finally:
        for name in lists:
            os.unlink(name)


LINES: list[str] = []


def line(n: int, what: str, ours: Run, ref: float | None, goal: float | None, *, rss_goal: float = 150) -> None:
    ratio = f"{ours.seconds / ref:5.2f}×" if ref else "      "
    ok = (goal is None or (ref is not None and ours.seconds / ref <= goal)) and ours.rss_mb <= rss_goal
    text = (f"{n:>7,}  {what:<34} {ours.seconds:8.2f} s  {ours.rss_mb:6.1f} MB  "
            f"ref {f'{ref:8.2f} s' if ref is not None else '         -'}  {ratio}  "
            f"goal {f'≤ {goal:.2f}×' if goal else '-':<8} rss ≤ {rss_goal:.0f}  {'met' if ok else 'NOT MET'}")
    LINES.append(text)
    print(text, flush=True)


def scale(n: int, data: Path, work: Path, runs: int, with_hf: bool, workers: str) -> dict[str, Run]:
    store = data / f"store-{n}"
    t = time.perf_counter()
    build_store(store, n)
    print(f"# {n:,} files: store ready in {time.perf_counter() - t:.1f} s", flush=True)
    hub = Hub(store)
    out: dict[str, Run] = {}
    try:
        e = env(hub)
        root = work / f"root-{n}"
        ours = measured([MGT, "download", "--dataset", REPO, "--run", "--max-workers", workers, "--root", str(root)], e)
        out["download"] = ours
        ref = None
        if with_hf:
            hf = measured([HF, "download", REPO, "--repo-type", "dataset", "--max-workers", workers,
                           "--local-dir", str(work / f"hf-{n}")], e)
            ref = hf.seconds
            shutil.rmtree(work / f"hf-{n}", ignore_errors=True)
        line(n, "download vs hf download", ours, ref, 0.30 if with_hf else None)
    finally:
        hub.stop()
    e = env(None, HF_ENDPOINT="http://127.0.0.1:9")  # nothing below may touch the network
    folder = root / "datasets" / "acme_scale"
    files = sorted(str(p) for p in folder.rglob("*.wav"))
    subprocess.run(["du", "-sb", str(folder)], stdout=subprocess.DEVNULL, check=True)  # warm both caches
    subprocess.run(["xargs", "-0", "-a", "/dev/stdin", "cat"], input="\0".join(files).encode(),
                   stdout=subprocess.DEVNULL, check=True)
    floor = min(sha256sum_halves(files) for _ in range(runs))
    first = best(runs, lambda: measured([MGT, "verify", "--full", "--dataset", REPO, "--root", str(root)], e))
    line(n, "first verify (--full) vs sha256sum/2", first, floor, 1.5)
    sums = best(runs, lambda: measured([MGT, "checksums", "--min-size", "0", "--root", str(root)], e))
    line(n, "checksums --min-size 0 vs sha256sum/2", sums, floor, 1.5)
    second = best(runs, lambda: measured([MGT, "verify", "--dataset", REPO, "--root", str(root)], e))
    line(n, "second verify vs the first", second, first.seconds, 0.25)
    du = min(measured(["du", "-sb", str(folder)]).seconds for _ in range(runs))
    bare = min(measured([sys.executable, "-c", "pass"]).seconds for _ in range(runs))
    line(n, "second verify vs du -sb + python", second, du + bare, 2.0)
    inv = best(runs, lambda: measured([MGT, "inventory", "--root", str(root)], e))
    line(n, "inventory vs du -sb", inv, du, None)
    out.update(first=first, checksums=sums, second=second, inventory=inv)
    shutil.rmtree(root, ignore_errors=True)
    return out


def latency(name: str, key: str, marker: str, *, gone: bool = False) -> float:
    """Seconds from a key sent to ``marker`` on screen (or off it, with ``gone``)."""
    tmux("send-keys", "-t", name, key)
    t = time.perf_counter()
    while time.perf_counter() - t < 5:
        present = marker in tmux("capture-pane", "-p", "-t", name)
        if present != gone:
            return time.perf_counter() - t
        time.sleep(0.002)
    raise RuntimeError(f"{marker!r} never {'left' if gone else 'appeared'} after {key!r}")


def visible_files(name: str) -> set[str]:
    return {w for ln in tmux("capture-pane", "-p", "-t", name).splitlines() for w in ln.split() if w.endswith(".wav")}


def scroll_to_bottom(name: str) -> float:
    """ctrl+home, then seconds from ctrl+end until none of the top's files is on screen."""
    tmux("send-keys", "-t", name, "C-Home")
    time.sleep(0.5)
    top = visible_files(name)
    tmux("send-keys", "-t", name, "C-End")
    t = time.perf_counter()
    while time.perf_counter() - t < 5:
        now = visible_files(name)
        if now and not now & top:
            return time.perf_counter() - t
        time.sleep(0.002)
    raise RuntimeError("ctrl+end did not move the view")


def app(n: int, data: Path, work: Path, quick: bool = False) -> None:
    """The app with ``n`` files queued, in tmux (100x30) as a user over SSH sees it: time from ``d`` to the
    first file row, then, while the download runs, keys to screen, bytes written to the terminal, the
    counts and a scroll to the end of the table, cancel and quit."""
    if shutil.which("tmux") is None:
        print("# tmux is missing: the app was not measured", flush=True)
        return
    store = data / f"store-{n}"
    build_store(store, n)
    hub = Hub(store, slow=0.05)  # each 4 KiB of a body takes 50 ms: the download runs while we measure
    root = work / f"app-{n}"
    root.mkdir()
    name = f"scale{os.getpid()}"
    e = env(hub, TERM="xterm-256color")
    exports = " ".join(f"{k}='{v}'" for k, v in e.items() if k.isidentifier() and "'" not in v)
    try:
        tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", f"exec env -i {exports} {MGT} --root {root}")
        wait_screen(name, "facebook/musicgen-small")
        tmux("send-keys", "-t", name, "n")
        wait_screen(name, "Add a Hub repo")
        time.sleep(0.3)
        tmux("send-keys", "-t", name, "-l", f"datasets/{REPO}")
        wait_screen(name, f"datasets/{REPO}")
        tmux("send-keys", "-t", name, "Enter")
        wait_screen(name, f"[x]  {REPO}")
        time.sleep(1)
        tmux("send-keys", "-t", name, "d")
        t = time.perf_counter()
        planning = wait_screen(name, "planning", poll=0.002)
        first = wait_screen(name, "clips/", timeout=120, poll=0.002)
        print(f"{n:>7,}  app: planning shown after {planning:.2f} s, first file row {first:.2f} s after d  "
              f"goal ≤ 2 s  {'met' if first <= 2 else 'NOT MET'}", flush=True)
        time.sleep(max(0.0, (2 if quick else 5) - (time.perf_counter() - t)))  # every row in, 8 downloading
        pid = int(tmux("display", "-p", "-t", name, "#{pane_pid}").strip())
        log = work / "tty.bytes"
        tmux("pipe-pane", "-t", name, "-o", f"cat >> {log}")
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(3 if quick else 10)
        span = time.perf_counter() - t0
        cpu = (cpu_seconds(pid) - cpu0) / span * 100
        tmux("pipe-pane", "-t", name)
        written = log.stat().st_size / span / 1000 if log.exists() else 0.0
        lat = []
        for _ in range(1 if quick else 5):
            for key, marker in (("3", "[3] Inventory"), ("2", "[2] Downloads"), ("?", "musicgen-tui keys"),
                                ("?", "musicgen-tui keys")):
                time.sleep(0.4)
                lat.append(latency(name, key, marker, gone=marker in tmux("capture-pane", "-p", "-t", name)))
        screen = tmux("capture-pane", "-p", "-t", name)
        summary = next((ln for ln in screen.splitlines() if "queued" in ln), "")
        counts = [int(w) for w in summary.replace("·", " ").split() if w.isdigit()]
        time.sleep(0.4)
        scrolled = scroll_to_bottom(name)
        print(f"{n:>7,}  app: keys to screen median {sorted(lat)[len(lat) // 2] * 1000:.0f} ms, "
              f"worst {max(lat) * 1000:.0f} ms (goal ≤ 150); terminal {written:.1f} KB/s (goal ≤ 20); "
              f"CPU {cpu:.0f} % of a core; summary {summary.strip()!r} (files {sum(counts[-4:]):,} of {n + 1:,}); "
              f"ctrl+end moved the view from the top to the bottom in {scrolled * 1000:.0f} ms", flush=True)
        time.sleep(0.4)
        cancel = latency(name, "c", "cancel")  # "cancelling…", then "cancelled: …" once the workers stop
        time.sleep(0.4)
        quit_start, answered, cleared = time.perf_counter(), None, None
        tmux("send-keys", "-t", name, "q")
        while time.perf_counter() - quit_start < 10:
            shown = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True)
            if answered is None and (shown.returncode or "Quitting" in shown.stdout):
                answered = time.perf_counter() - quit_start
            if cleared is None and (shown.returncode or "STATE" not in shown.stdout):
                cleared = time.perf_counter() - quit_start  # the app's screen is gone (the terminal is back)
            if shown.returncode:
                break
            time.sleep(0.002)
        print(f"{n:>7,}  app: c answered in {cancel * 1000:.0f} ms (goal ≤ 150); q answered in "
              f"{(answered or 0) * 1000:.0f} ms (goal ≤ 150), gave the terminal back in "
              f"{(cleared or 0) * 1000:.0f} ms, the process ended in "
              f"{(time.perf_counter() - quit_start) * 1000:.0f} ms", flush=True)
    finally:
        tmux("kill-session", "-t", name)
        sys.path.insert(0, str(HERE))
        from core.service.client import stop

        stop(root)  # the app's downloads are its service's, which outlives the app
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="20000,100000", help="comma-separated dataset sizes")
    parser.add_argument("--quick", action="store_true", help="2,000 files, one run, no hf download")
    parser.add_argument("--no-hf", action="store_true", help="skip hf download (minutes at 100,000 files)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each local command (median)")
    parser.add_argument("--workers", default="16", help="--max-workers for both downloaders")
    parser.add_argument("--app", type=int, default=20_000, metavar="N",
                        help="files queued in the app's measurement (0 skips it)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "musicgen-scale-data",
                        help="where the stand-in stores are built and kept between runs")
    args = parser.parse_args()
    sizes = [2000] if args.quick else [int(x) for x in args.files.split(",")]
    runs = 1 if args.quick else args.runs
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(HERE / d) for d in ("core", "cli", "tui"))],
                   check=True)
    print(f"# musicgen-tui at scale, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, sizes {sizes}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="musicgen-scale-"))
    results = {}
    data = work / "data" if args.quick else args.data  # quick: built and removed with the run's own folder
    try:
        for n in sizes:
            results[n] = scale(n, data, work, runs, not (args.quick or args.no_hf), args.workers)
        if args.app:
            app(2000 if args.quick else args.app, data, work, args.quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(results) > 1:  # the goal: at most 40 MB more from 20,000 to 100,000 files
        lo, hi = (20_000, 100_000) if {20_000, 100_000} <= set(results) else (min(results), max(results))
        for step in results[lo]:
            grew = results[hi][step].rss_mb - results[lo][step].rss_mb
            print(f"# RSS growth {lo:,} -> {hi:,} files, {step:<10} {grew:+6.1f} MB "
                  f"({grew * (1 << 20) / (hi - lo):.0f} bytes a file)  goal ≤ 40 MB from 20,000 to 100,000  "
                  f"{'met' if grew * 80_000 / (hi - lo) <= 40 else 'NOT MET'}", flush=True)


if __name__ == "__main__":
    main()
