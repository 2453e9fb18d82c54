"""``musicgen-tui env``: the shell lines that point the loaders at the root's runtime views, offline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..common import EXIT_CANNOT_RUN, EXIT_OK, settings_for
from ..output import Output

HELP = "print shell lines that make transformers, audiocraft and demucs load from this root offline"
EXITS = ("Use: eval \"$(musicgen-tui env)\" (bash, zsh) or musicgen-tui env --shell fish | source. The views are "
         "refreshed first (through the root's service while it runs). exit status: 0 printed; 2 could not run "
         "(bad settings, a root that cannot be written).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shell", choices=("bash", "zsh", "fish"), default="bash", help="the shell's syntax (bash)")
    p.add_argument("--json", action="store_true", help="print the variables as a JSON object")
    p.add_argument("--no-refresh", action="store_true", help="print only; leave the views as they are")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.runtime.envlines import env_vars, shell_lines
    from core.service.events import Verified
    from core.service.requests import Export

    from ..chores import CannotRun, chore

    settings = settings_for(args)
    if not args.no_refresh:
        try:
            done = chore(settings, Export(inventories=False, checksums=False, views=True))
        except CannotRun as e:
            out.error(str(e))
            return EXIT_CANNOT_RUN
        assert not isinstance(done, Verified)
        if done.unwritable:
            out.error(f"{settings.root} cannot be written ({done.unwritable}): the views were not refreshed")
            return EXIT_CANNOT_RUN
        print(f"# {done.views}", file=sys.stderr)
    out.show(EnvView(env_vars(settings.root), shell_lines(settings.root, args.shell)))
    return EXIT_OK


class EnvView:
    def __init__(self, variables: dict[str, str], lines: list[str]) -> None:
        self.variables, self.lines = variables, lines

    def data(self) -> Any:
        return self.variables

    def text(self) -> list[str]:
        return self.lines
