"""The original workflow's smoke check, kept as a thin wrapper: verify the workspace and write the report.

    python tests/env_tests/smoke_check.py [--root DIR] [--model ID]... [--dataset ID]...

Runs ``musicgen-tui verify`` (which writes ``inventory/verify_report.json``) and exits with its code.
"""

from __future__ import annotations

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main(["verify", *sys.argv[1:]]))
