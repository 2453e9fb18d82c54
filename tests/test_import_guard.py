"""core/ stays UI-free, and headless commands never load Textual or Rich."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ("textual", "rich", "tui")


def test_core_never_imports_ui() -> None:
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in UI]
    assert offenders == []


def test_headless_commands_do_not_load_textual_or_rich(tmp_path: Path) -> None:
    code = (
        "import sys; from cli.main import main\n"
        f"main(['inventory', '--root', {str(tmp_path)!r}])\n"
        f"main(['verify', '--root', {str(tmp_path)!r}])\n"
        "import core.hub.download, core.hub.planner, core.local.checksums, localhub, localhub.standins\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "assert not bad, bad\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
