"""The service's live controls from the command line: ``limit``, ``pause``, ``resume`` and ``priority``. Each asks
the root's running service and prints the controls after it (``--json``: as the protocol's CONTROLS)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_CANNOT_RUN, EXIT_OK, UsageError, add_repo_ids, refs_from, settings_for
from ..output import Output

if TYPE_CHECKING:
    from core.service.events import Controls
    from core.service.requests import Limit, Pause, Priority, Resume

EXITS = "exit status: 0 done; 2 could not run (bad arguments, no service on this root, the service unreachable)"


def _ask(args: argparse.Namespace, out: Output, request: Limit | Pause | Resume | Priority) -> int:
    from core.service.client import ServiceError, connect
    from core.service.events import Done

    settings = settings_for(args)
    try:
        client = connect(settings.root)
        if client is None:
            out.error("no download service runs on this root: these controls steer a running one "
                      "(`download --run --detach` starts it; MUSICGEN_MAX_RATE caps any run)")
            return EXIT_CANNOT_RUN
        with client:
            reply = client.request(request)
    except ServiceError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    if isinstance(reply, Done) and reply.controls is not None:
        out.show(ControlsView(reply.controls))
    return EXIT_OK


def one_repo(args: argparse.Namespace, *, needed: bool) -> Any:
    refs = refs_from(args, None)
    if len(refs) > 1 or (needed and not refs):
        raise UsageError("name one repo: --model ID or --dataset ID" if needed else "at most one --model or --dataset")
    return refs[0] if refs else None


class ControlsView:
    def __init__(self, controls: Controls) -> None:
        self.controls = controls

    def data(self) -> dict[str, Any]:
        return self.controls.data()

    def text(self) -> Iterator[str]:
        yield from describe(self.controls)


def describe(c: Controls) -> Iterator[str]:
    """The controls as the CLI says them (``status`` too)."""
    from core.sizes import human

    yield "bandwidth: " + (f"capped at {human(c.max_rate)}/s" if c.max_rate else "no cap")
    if c.paused_all:
        yield "paused: everything (`musicgen-tui resume` goes on)"
    if c.paused:
        yield "paused: " + ", ".join(r.repo_id for r in c.paused)
    if c.first:
        yield "first: " + ", ".join(r.repo_id for r in c.first)
    if c.last:
        yield "last: " + ", ".join(r.repo_id for r in c.last)


class LimitCommand:
    HELP = "cap the bandwidth of this root's service, all its connections together (0: no cap)"
    EXITS = EXITS

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("rate", metavar="RATE", help="bytes a second, like 20M or 500K; 0 lifts the cap")
        p.add_argument("--json", action="store_true", help="print the controls as JSON on stdout")

    @staticmethod
    def run(args: argparse.Namespace, out: Output) -> int:
        from core.service.requests import MAX_RATE, Limit
        from core.sizes import parse_size

        try:
            rate = parse_size(args.rate)
        except ValueError as e:
            raise UsageError(f"RATE: {e}") from None
        if not 0 <= rate <= MAX_RATE:
            raise UsageError("RATE must be from 0 (no cap) up")
        return _ask(args, out, Limit(rate))


class PauseCommand:
    """``pause`` (``resume`` False) or ``resume``: everything, or one repo."""

    EXITS = EXITS

    def __init__(self, *, resume: bool) -> None:
        self.resume = resume
        self.HELP = ("resume this root's paused downloads, or one repo's" if resume else
                     "pause this root's downloads, or one repo's (bytes kept, connections closed; kept across "
                     "restarts)")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_repo_ids(p, f" to {'resume' if self.resume else 'pause'} (default: everything)")
        p.add_argument("--json", action="store_true", help="print the controls as JSON on stdout")

    def run(self, args: argparse.Namespace, out: Output) -> int:
        from core.service.requests import Pause, Resume

        return _ask(args, out, (Resume if self.resume else Pause)(one_repo(args, needed=False)))


class PriorityCommand:
    HELP = "move one repo's downloads to the front (first) or the back (last) of the queue"
    EXITS = EXITS

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        add_repo_ids(p, " to move")
        p.add_argument("place", choices=("first", "last"), help="first or last")
        p.add_argument("--json", action="store_true", help="print the controls as JSON on stdout")

    @staticmethod
    def run(args: argparse.Namespace, out: Output) -> int:
        from core.service.requests import Priority

        return _ask(args, out, Priority(one_repo(args, needed=True), args.place))
