"""``musicgen-tui demo``: the whole workflow offline, against a local Hub serving stand-ins of the catalog."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

DEMO_REPOS = ["--model", "facebook/musicgen-small", "--model", "facebook/musicgen-stereo-small",
              "--model", "facebook/encodec_32khz", "--dataset", "google/musiccaps", "--dataset", "marsyas/gtzan"]


def run_demo(root: str | None) -> int:
    """Start the local Hub, then plan, download, inventory, checksum and verify in a (temporary) root."""
    from core.localhub import LocalHub
    from core.standins import catalog_standins

    from .main import main

    workdir = Path(root) if root else Path(tempfile.mkdtemp(prefix="musicgen-tui-demo-"))
    with LocalHub(catalog_standins()) as hub:
        os.environ.update(HF_ENDPOINT=hub.url, MUSICGEN_MIN_FREE="0", MUSICGEN_ROOT=str(workdir))
        os.environ.pop("HF_TOKEN", None)
        print(f"local Hub on {hub.url} serving {len(hub.repos)} stand-in repos; workspace: {workdir}\n")
        steps = [
            ["download", "--models", "--datasets"],
            ["download", *DEMO_REPOS, "--run"],
            ["inventory"],
            ["checksums", "--min-size", "20K"],
            ["verify"],
        ]
        code = 0
        for step in steps:
            print(f"$ musicgen-tui {shlex.join(step)}")
            code = max(code, main([*step, "--root", str(workdir)]))
            print()
    print(f"done: the workspace is in {workdir}")
    return code
