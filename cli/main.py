"""``musicgen-tui``: the entry point. Builds the parser from the command modules, runs one, and turns every
error into one line on stderr and an exit code (``MUSICGEN_DEBUG=1`` adds the traceback, for bug reports).

Headless commands never import Textual or Rich, and import ``core`` only once they run, so they start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from .commands import app, cancel, catalog, checksums, demo, download, inventory, status, stop, verify
from .common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PIPE, EXIT_USAGE, UsageError, add_root
from .output import Output

COMMANDS: dict[str, ModuleType] = {m.__name__.rsplit(".", 1)[-1]: m
                                   for m in (download, status, cancel, stop, inventory, checksums, verify, catalog,
                                             demo)}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_root(common)
    parser = argparse.ArgumentParser(
        prog="musicgen-tui", parents=[common],
        description="Keep a local workspace of MusicGen models and music datasets from the Hugging Face Hub.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, parents=[common], help=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Output(as_json=getattr(args, "json", False))
    command = COMMANDS[args.command] if args.command else app
    try:
        code = command.run(args, out)
    except UsageError as e:
        print(f"musicgen-tui: error: {e}", file=sys.stderr)
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
    print(f"musicgen-tui: error: {describe(exc, token=token)}{hint}", file=sys.stderr)
    return EXIT_FAILED


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
