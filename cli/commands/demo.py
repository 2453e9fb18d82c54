"""``musicgen-tui demo``: the whole workflow offline, against a local Hub serving stand-ins of the catalog."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType

from ..common import add_root
from ..output import Output
from . import checksums, download, inventory, verify

HELP = "open the app on a local Hub with stand-ins, offline"
DEMO_REPOS = ["--model", "facebook/musicgen-small", "--model", "facebook/musicgen-stereo-small",
              "--model", "facebook/encodec_32khz", "--dataset", "google/musiccaps", "--dataset", "marsyas/gtzan"]
STEPS: list[tuple[ModuleType, list[str]]] = [
    (download, ["--models", "--datasets"]),
    (download, [*DEMO_REPOS, "--run"]),
    (inventory, []),
    (checksums, ["--min-size", "20K"]),
    (verify, []),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", help="run the workflow with the CLI instead of the app")


def run(args: argparse.Namespace, out: Output) -> int:
    """Start the local Hub with stand-ins of the catalog in a (temporary) root, then open the app on it, or,
    headless, plan, download, inventory, checksum and verify with the CLI, printing each step."""
    import tempfile

    from localhub import LocalHub
    from localhub.standins import catalog_standins

    workdir = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="musicgen-tui-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with LocalHub(catalog_standins()) as hub:
        os.environ.update(HF_ENDPOINT=hub.url, MUSICGEN_MIN_FREE="0", MUSICGEN_ROOT=str(workdir))
        os.environ.pop("HF_TOKEN", None)
        if args.headless or not sys.stdout.isatty():
            print(f"local Hub on {hub.url} serving {len(hub.repos)} stand-in repos; workspace: {workdir}\n")
            return _scripted(workdir)
        from core.settings import load_settings
        from tui.app import make_app

        code = make_app(load_settings(workdir)).run()
        from core.service.client import stop

        if stop(workdir):  # its downloads came from this process's Hub, which ends now
            print("demo: the workspace's download service stopped with the demo's Hub (partial files are kept)")
        print(f"demo workspace: {workdir}")
        return int(code or 0)


def _scripted(workdir: Path) -> int:
    """Each step as the command a user would type, run in this process; the first is the catalog's dry run,
    whose "not on this endpoint" rows are information, not failure."""
    import shlex

    code = 0
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
    print(f"done: the workspace is in {workdir}")
    return code
