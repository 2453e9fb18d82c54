"""``musicgen-tui``: the entry point. Builds the parser from the command modules, runs one, and turns every
error into one line on stderr and an exit code (``MUSICGEN_DEBUG=1`` adds the traceback, for bug reports).

Headless commands never import Textual or Rich, and import ``core`` only once they run, so they start fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from .commands import (
    app,
    cancel,
    catalog,
    checksums,
    demo,
    download,
    env,
    inventory,
    lock,
    outdated,
    smoke,
    status,
    stop,
    verify,
)
from .commands.clean import PruneCommand, RmCommand
from .commands.controls import LimitCommand, PauseCommand, PriorityCommand
from .commands.pack import PackCommand, UnpackCommand
from .common import EXIT_CANNOT_RUN, EXIT_INTERRUPTED, EXIT_PIPE, EXIT_USAGE, UsageError, add_root
from .output import Output, printable

COMMANDS: dict[str, Any] = {  # a command module, or a class with the same four names
    **{m.__name__.rsplit(".", 1)[-1]: m for m in (download, status, cancel, stop)},
    "limit": LimitCommand, "pause": PauseCommand(resume=False), "resume": PauseCommand(resume=True),
    "priority": PriorityCommand, "rm": RmCommand, "prune": PruneCommand,
    **{m.__name__.rsplit(".", 1)[-1]: m for m in (inventory, checksums, verify, outdated, lock)},
    "pack": PackCommand, "unpack": UnpackCommand,
    **{m.__name__.rsplit(".", 1)[-1]: m for m in (env, smoke, catalog, demo)},
}


def build_parser() -> argparse.ArgumentParser:
    top, common = argparse.ArgumentParser(add_help=False), argparse.ArgumentParser(add_help=False)
    add_root(top)
    add_root(common, inherited=True)
    parser = argparse.ArgumentParser(
        prog="musicgen-tui", parents=[top],
        description="Keep a local workspace of MusicGen models and music datasets from the Hugging Face Hub.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, parents=[common], help=module.HELP, epilog=module.EXITS))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Output(as_json=getattr(args, "json", False))
    command = COMMANDS[args.command] if args.command else app
    _log_to_stderr()
    try:
        code = command.run(args, out)
    except UsageError as e:
        print(printable(f"musicgen-tui: error: {e}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted: partial files are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # the reader of stdout went away: ``run`` ends quietly
    except Exception as e:
        return _failed(e, args)
    out.close()
    return code


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # as it is now (a test's capture, a redirected stream)
        super().emit(record)


def _log_to_stderr() -> None:
    """core's warnings (a damaged record made again) as one line each on stderr; the app sends them to its log."""
    from core.logtext import install

    log = logging.getLogger("musicgen_tui")
    for old in list(log.handlers):  # the app's log file, of an app this process ran before
        log.removeHandler(old)
        old.close()
    log.addHandler(install(_Stderr(), "musicgen-tui: %(message)s"))
    log.setLevel(logging.WARNING)
    log.propagate = False


def _failed(exc: Exception, args: argparse.Namespace) -> int:
    """An error no command turned into a result: one line, or the traceback as well with MUSICGEN_DEBUG.
    Neither ever shows the token."""
    from core.errors import scrub
    from core.hub.errors import describe
    from core.settings import is_true, load_settings

    try:
        settings = load_settings(args.root)  # MUSICGEN_DEBUG and the token may be in the root's .env
        debug, token = settings.debug, settings.token
    except Exception:
        debug, token = False, None
    token = token or os.environ.get("HF_TOKEN") or None
    hint = "" if isinstance(exc, OSError) else " (run with MUSICGEN_DEBUG=1 for the details)"
    if debug or is_true(os.environ.get("MUSICGEN_DEBUG", "")):
        import traceback

        sys.stderr.write(scrub("".join(traceback.format_exception(exc)), token))
        hint = ""
    print(printable(f"musicgen-tui: error: {describe(exc, token=token)}{hint}"), file=sys.stderr)
    return EXIT_CANNOT_RUN


def run() -> None:
    """Console-script entry. Output read by ``head``, ``less`` or a pipe that closes ends quietly, with the status
    of a process the pipe's signal ended (141), as ``yes | head`` does."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        code = EXIT_PIPE
    sys.exit(code)


if __name__ == "__main__":
    run()
