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
from .protocol import EXIT_HELD
from .server import run_service

# What the service tells its starter through the pipe: it listens, or a kind of failure (a byte) and one line.
READY, HELD, FAILED = b"ok", b"H", b"F"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m core.service")
    parser.add_argument("--root", required=True)
    args = parser.parse_args()
    ready_r, ready_w = os.pipe()
    if os.fork():  # the starter: the service's outcome, then gone
        os.close(ready_w)
        with os.fdopen(ready_r, "rb") as answer:
            said = answer.read()
        if said == READY:
            return 0
        code, text = (EXIT_HELD, said[1:]) if said[:1] == HELD else (1, said[1:])
        print(text.decode(errors="replace") or "the service ended before it listened", file=sys.stderr)
        return code
    os.close(ready_r)
    logging.basicConfig(level=logging.WARNING, handlers=[install(logging.StreamHandler())])
    logging.getLogger("musicgen_tui").setLevel(logging.INFO)  # its own start and end; no line per request
    ready = os.fdopen(ready_w, "wb")

    def say(answer: bytes) -> None:
        if not ready.closed:
            ready.write(answer)
            ready.close()

    try:
        settings = load_settings(args.root)
        run_service(settings, settings.service_idle, on_ready=lambda: say(READY))
    except LockHeld as e:
        logging.error("%s", e)
        say(HELD + str(e).encode())
        return EXIT_HELD
    except Exception as e:
        logging.exception("the service failed")
        say(FAILED + f"the service failed: {e}".encode())
        return 1
    finally:
        say(FAILED)
    return 0


if __name__ == "__main__":
    code = main()
    # Out at once: a planning thread still blocked on a Hub that does not answer would hold the interpreter's
    # exit (thread pools are joined at exit) for the whole read timeout. Every file write is done by now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
