"""The house rules: the layers (import-linter contracts, run by `make test`) catch a violation of each kind;
core stays UI-free; headless commands never load Textual or Rich; every third-party import is declared."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import bin_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "cli", "tui", "localhub")
UI = ("textual", "rich", "tui")
# One violation of each contract, each a single added import line.
VIOLATIONS = {
    "core/local/walk.py": "import core.hub.errors",  # the disk layer uses the network layer (and a cycle)
    "core/settings.py": "import huggingface_hub",  # Hub code outside core.hub
    "core/repos.py": "import textual",  # UI in core
    "tui/format.py": "import localhub",  # the app uses the test Hub
    "core/plan.py": "import torch",  # a heavy loader outside the smoke check's child
}


def test_contracts_hold_and_catch_a_violation_of_each_kind(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = [c["name"] for c in config["contracts"]]
    ok = subprocess.run([bin_path("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for rel, line in VIOLATIONS.items():
        with open(tmp_path / rel, "a", encoding="utf-8") as f:
            f.write(f"\n{line}  # noqa\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    bad = subprocess.run([bin_path("lint-imports"), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                         env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    broken = {name for name in names if re.search(rf"^{re.escape(name)} BROKEN$", bad.stdout, re.MULTILINE)}
    assert broken == set(names), bad.stdout


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


def test_every_third_party_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the loaders the smoke check's child imports are the test extra's (a user installs them to run MusicGen);
    # audiocraft, imported only when installed, has no build for this torch here
    wanted = project["dependencies"] + project["optional-dependencies"]["test"] + ["audiocraft"]
    declared = {re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower().replace("_", "-") for d in wanted}
    providers = importlib.metadata.packages_distributions()
    imported: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}
    undeclared = {name: providers.get(name) for name in third_party
                  if not {d.lower().replace("_", "-") for d in providers.get(name, [name])} & declared}
    assert undeclared == {}
