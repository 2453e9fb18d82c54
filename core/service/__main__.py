"""``python -m core.service --root DIR``: the download service of one root, as clients start it.

The process a client starts forks the service and waits only until it listens (or fails): the client's
``wait`` then returns at once with the outcome, and the service, whose parent has gone, belongs to no terminal
and to no client process (nothing to reap, nothing a hang-up reaches)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..local.lock import LockHeld
from ..logtext import install
from ..settings import load_settings
from .server import run_service


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m core.service")
    parser.add_argument("--root", required=True)
    args = parser.parse_args()
    ready_r, ready_w = os.pipe()
    if os.fork():  # the starter: the service's outcome, then gone
        os.close(ready_w)
        with os.fdopen(ready_r, "rb") as answer:
            said = answer.read().decode(errors="replace")
        if said != "ok":
            print(said or "the service ended before it listened", file=sys.stderr)
            return 1
        return 0
    os.close(ready_r)
    logging.basicConfig(level=logging.WARNING, handlers=[install(logging.StreamHandler())])
    logging.getLogger("musicgen_tui").setLevel(logging.INFO)  # its own start and end; no line per request
    ready = os.fdopen(ready_w, "wb")

    def say(text: str) -> None:
        if not ready.closed:
            ready.write(text.encode())
            ready.close()

    try:
        settings = load_settings(args.root)
        run_service(settings, settings.service_idle, on_ready=lambda: say("ok"))
    except LockHeld as e:
        logging.error("%s", e)
        say(str(e))
        return 1
    except Exception as e:
        logging.exception("the service failed")
        say(f"the service failed: {e}")
        return 1
    finally:
        say("")
    return 0


if __name__ == "__main__":
    code = main()
    # Out at once: a planning thread still blocked on a Hub that does not answer would hold the interpreter's
    # exit (thread pools are joined at exit) for the whole read timeout. Every file write is done by now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
