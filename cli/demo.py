"""``musicgen-tui demo``: the whole workflow offline, against a local Hub serving stand-ins of the catalog."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

DEMO_REPOS = ["--model", "facebook/musicgen-small", "--model", "facebook/musicgen-stereo-small",
              "--model", "facebook/encodec_32khz", "--dataset", "google/musiccaps", "--dataset", "marsyas/gtzan"]


def run_demo(root: str | None, headless: bool = False) -> int:
    """Start the local Hub with stand-ins of the catalog in a (temporary) root, then open the app on it, or,
    headless, plan, download, inventory, checksum and verify with the CLI, printing each step."""
    from core.localhub import LocalHub
    from core.standins import catalog_standins

    workdir = Path(root) if root else Path(tempfile.mkdtemp(prefix="musicgen-tui-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with LocalHub(catalog_standins()) as hub:
        os.environ.update(HF_ENDPOINT=hub.url, MUSICGEN_MIN_FREE="0", MUSICGEN_ROOT=str(workdir))
        os.environ.pop("HF_TOKEN", None)
        if not headless:
            from core.settings import load_settings
            from tui.app import make_app

            code = make_app(load_settings(workdir)).run()
            print(f"demo workspace: {workdir}")
            return int(code or 0)
        return _scripted(hub.url, len(hub.repos), workdir)


def _scripted(url: str, count: int, workdir: Path) -> int:
    from .main import main

    print(f"local Hub on {url} serving {count} stand-in repos; workspace: {workdir}\n")
    steps = [
        ["download", "--models", "--datasets"],
        ["download", *DEMO_REPOS, "--run"],
        ["inventory"],
        ["checksums", "--min-size", "20K"],
        ["verify"],
    ]
    code = 0
    for i, step in enumerate(steps):
        print(f"$ musicgen-tui {shlex.join(step)}")
        result = main([*step, "--root", str(workdir)])
        if i:  # the first step is the catalog's dry run: its "not on this endpoint" rows are information
            code = max(code, result)
        print()
    print(f"done: the workspace is in {workdir}")
    return code
