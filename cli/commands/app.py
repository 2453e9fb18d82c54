"""``musicgen-tui [--root DIR]``, no command: open the app on a workspace root."""

from __future__ import annotations

import argparse
import sys

from ..common import settings_for
from ..output import Output


def run(args: argparse.Namespace, out: Output) -> int:
    settings = settings_for(args)  # the root is a folder by now: made when absent, refused when a file
    from tui.app import make_app

    app = make_app(settings)
    code = int(app.run() or 0)
    if app.farewell:
        print(f"musicgen-tui: {app.farewell}", file=sys.stderr)
    return code
