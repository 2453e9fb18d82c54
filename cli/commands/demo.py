"""``musicgen-tui demo``: the whole workflow offline, against a local Hub serving stand-ins of the catalog."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from ..common import EXIT_INTERRUPTED, EXIT_OK, add_root
from ..output import Output
from . import checksums, download, inventory, verify

HELP = "open the app on a local Hub with stand-ins, offline"
EXITS = "exit status: 0 the demo ran; 1 a step found problems; 2 could not run; 130 interrupted"
DEMO_REPOS = ["--model", "facebook/musicgen-small", "--model", "facebook/musicgen-stereo-small",
              "--model", "facebook/encodec_32khz", "--dataset", "google/musiccaps", "--dataset", "marsyas/gtzan",
              "--dataset", "magenta/nsynth"]
ENVIRON = ("HF_ENDPOINT", "HF_TOKEN", "MUSICGEN_MIN_FREE", "MUSICGEN_ROOT", "MUSICGEN_SOURCES_ENDPOINT",
           "MUSICGEN_CATALOG")
DEMO_CHECKSUM_MIN = 100 << 10  # the real default, 100M, at the demo's scale: its big stand-ins get their lines
STEPS: list[tuple[ModuleType, list[str]]] = [
    (download, ["--models", "--datasets"]),
    (download, [*DEMO_REPOS, "--run", "--progress-every", "1"]),
    (inventory, []),
    (checksums, ["--min-size", "100K"]),
    (verify, []),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", help="run the workflow with the CLI instead of the app")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary workspace when the demo ends (a --root folder is always kept)")


def run(args: argparse.Namespace, out: Output) -> int:
    """Start the demo's local Hub (stand-ins at 1/1,000 of the real sizes, each connection capped, one file
    that breaks off once) for a workspace, a temporary one unless ``--root``, then open the app on it, or,
    headless, plan, download, inventory, checksum and verify with the CLI, printing each step. A temporary
    workspace is removed when the demo ends, unless ``--keep``; its path is printed either way."""
    import tempfile

    from core.sizes import human
    from localhub.demo import DEMO_LIMIT, DEMO_SCALE, demo_hosts, demo_hub
    from localhub.offhub import catalog_toml, offhub_standins

    temporary = not args.root
    workdir = Path(tempfile.mkdtemp(prefix="musicgen-tui-demo-")) if temporary else Path(args.root)
    workdir.mkdir(parents=True, exist_ok=True)
    fate = "removed when the demo ends; --keep keeps it" if temporary and not args.keep else "kept"
    code = EXIT_OK
    saved = {k: os.environ.get(k) for k in ENVIRON}  # the demo's settings last as long as the demo
    try:
        with demo_hub() as hub, demo_hosts() as hosts, tempfile.TemporaryDirectory(prefix="demo-sources-") as tmp:
            catalog = Path(tmp) / "standins.toml"  # FMA's and demucs' stand-ins carry checksums of their own
            catalog.write_text(catalog_toml(offhub_standins()[0]))
            os.environ.update(HF_ENDPOINT=hub.url, MUSICGEN_MIN_FREE="0", MUSICGEN_ROOT=str(workdir),
                              MUSICGEN_SOURCES_ENDPOINT=hosts.url, MUSICGEN_CATALOG=str(catalog))
            os.environ.pop("HF_TOKEN", None)
            print(f"local Hub on {hub.url}: {len(hub.repos)} stand-in repos at 1/{DEMO_SCALE:,} of the real sizes, "
                  f"{human(DEMO_LIMIT)}/s a connection; the six ids the Hub lacks from look-alikes of their "
                  f"publishers' hosts on {hosts.url}\ndemo workspace: {workdir} ({fate})\n", flush=True)
            if args.headless or not sys.stdout.isatty():
                code = _scripted(workdir)
            else:
                code = _app(workdir, kept=not temporary or args.keep)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    finally:
        print(_leave(workdir, temporary and not args.keep))
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code


def _app(workdir: Path, kept: bool) -> int:
    from core.service.client import stop
    from core.settings import load_settings
    from tui.app import make_app

    try:
        settings = replace(load_settings(workdir), checksum_min=DEMO_CHECKSUM_MIN)
        return int(make_app(settings).run() or 0)
    finally:
        if stop(workdir):  # its downloads came from this process's Hub, which ends now
            print("demo: the workspace's download service stopped with the demo's Hub"
                  + (" (partial files are kept)" if kept else ""))


def _leave(workdir: Path, remove: bool) -> str:
    """Remove the demo's workspace or keep it: the line that says which, and where."""
    if not remove:
        return f"demo workspace: {workdir}"
    shutil.rmtree(workdir, ignore_errors=True)
    if workdir.exists():
        return f"demo workspace: {workdir} (could not be removed in full)"
    return f"demo workspace: {workdir} removed (musicgen-tui demo --keep keeps it)"


def _scripted(workdir: Path) -> int:
    """Each step as the command a user would type, run in this process; the first is the catalog's dry run."""
    import shlex

    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # the steps' lines between their progress lines on stderr
    code = EXIT_OK
    for i, (command, argv) in enumerate(STEPS):
        print(f"$ musicgen-tui {command.__name__.rsplit('.', 1)[-1]} {shlex.join(argv)}".rstrip())
        parser = argparse.ArgumentParser(prog=f"musicgen-tui {command.__name__}")
        add_root(parser)
        command.add_arguments(parser)
        args = parser.parse_args([*argv, "--root", str(workdir)])
        result = command.run(args, Output(as_json=False))
        if i:
            code = max(code, result)
        print()
    return code
