#!/usr/bin/env bash
# The original workflow's download script, kept as a thin wrapper: every flag goes to `musicgen-tui download`.
#   scripts/download_musicgen_full.sh --models --datasets          # print the plan
#   scripts/download_musicgen_full.sh --models --datasets --run    # download
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${MUSICGEN_TUI:-}" ]; then exe="$MUSICGEN_TUI"
elif [ -x "$here/.venv/bin/musicgen-tui" ]; then exe="$here/.venv/bin/musicgen-tui"
else exe="musicgen-tui"; fi
exec "$exe" download "$@"
