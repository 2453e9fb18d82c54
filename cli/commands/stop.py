"""``musicgen-tui stop``: cancel everything the root's download service runs, keep the partial files, end it."""

from __future__ import annotations

import argparse

from ..common import EXIT_CANNOT_RUN, EXIT_OK, settings_for
from ..output import Output

HELP = "stop this root's download service (partial files are kept for resume)"
EXITS = "exit status: 0 stopped (or none ran); 2 could not run (the service unreachable or did not stop)"
STOP_WAIT = 60.0  # seconds for the service to stop its downloads and go


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, out: Output) -> int:
    from core.service.client import ServiceError, stop

    settings = settings_for(args)
    try:
        stopped = stop(settings.root, STOP_WAIT)
    except ServiceError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if stopped is None:
        out.say("no download service runs on this root")
        return EXIT_OK
    if not stopped:
        out.error(f"the download service did not stop within {STOP_WAIT:.0f} s")
        return EXIT_CANNOT_RUN
    out.say("stopped: partial files are kept; run the download again to resume")
    return EXIT_OK
