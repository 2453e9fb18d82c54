"""The completion hook: ``MUSICGEN_ON_DONE``, a command the service runs as each repo's job ends, with no shell
(split as a shell would split it; a user who wants one writes ``sh -c '…'``). It hears the repo through its
environment: ``MUSICGEN_REPO_ID``, ``MUSICGEN_REPO_TYPE``, ``MUSICGEN_REPO_PATH``, ``MUSICGEN_STATUS``
(``complete``, ``failed`` or ``cancelled``) and ``MUSICGEN_BYTES`` (the bytes fetched for it). It runs in the
background, its output in the service's log; a failure or a hang (past ``HOOK_WAIT``) is logged, never fatal, and
the token is never in its environment."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
from pathlib import Path

from ..repos import RepoRef
from ..results import RunResult

log = logging.getLogger("musicgen_tui.hook")
HOOK_WAIT = 300.0  # seconds a hook may run before it is killed


def run_hooks(command: str, root: Path, result: RunResult) -> None:
    """The hook once for each repo of a job that ended, one after another, on a thread of its own: the service goes
    on at once."""
    if not command.strip() or not result.repos:
        return
    threading.Thread(target=_run_all, args=(command, root, result), name="on-done", daemon=True).start()


def _run_all(command: str, root: Path, result: RunResult) -> None:
    argv = shlex.split(command)
    base = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    for r in result.repos:
        env = dict(base, MUSICGEN_REPO_ID=r.repo_id, MUSICGEN_REPO_TYPE=r.repo_type,
                   MUSICGEN_REPO_PATH=str(RepoRef(r.repo_type, r.repo_id).local_dir(root)),  # type: ignore[arg-type]
                   MUSICGEN_STATUS=r.outcome, MUSICGEN_BYTES=str(r.bytes_fetched))
        try:
            done = subprocess.run(argv, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=HOOK_WAIT, check=False)
        except subprocess.TimeoutExpired:
            log.warning("MUSICGEN_ON_DONE for %s ran over %.0f s and was killed", r.repo_id, HOOK_WAIT)
            continue
        except OSError as e:
            log.warning("MUSICGEN_ON_DONE could not run for %s: %s", r.repo_id, e.strerror or e)
            continue
        out = done.stdout.decode(errors="replace").strip()
        if out:
            log.info("MUSICGEN_ON_DONE for %s said: %s", r.repo_id, out[-2000:])
        if done.returncode:
            log.warning("MUSICGEN_ON_DONE for %s exited %d", r.repo_id, done.returncode)
