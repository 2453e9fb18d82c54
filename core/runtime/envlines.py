"""The environment that points the loaders at a root's runtime views, offline, as shell lines to ``eval``."""

from __future__ import annotations

import shlex
from pathlib import Path

from .views import HF_HOME, HF_HUB_CACHE, TORCH_HOME

SHELLS = ("bash", "zsh", "fish")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def env_vars(root: Path) -> dict[str, str]:
    """HF_HOME and HF_HUB_CACHE at the HF-cache view, TORCH_HOME at the torch view, and offline mode: a load by
    repo id (transformers, audiocraft, datasets) or torch.hub's checkpoint lookup (demucs) is served from the
    workspace and never reaches for the network."""
    root = root.resolve()
    return {"HF_HOME": str(root / HF_HOME), "HF_HUB_CACHE": str(root / HF_HUB_CACHE),
            "TORCH_HOME": str(root / TORCH_HOME), **OFFLINE}


def shell_lines(root: Path, shell: str = "bash") -> list[str]:
    """``export K=V`` lines for bash and zsh, ``set -gx K V`` for fish; values quoted for the shell."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r} (use {', '.join(SHELLS)})")
    if shell == "fish":
        return [f"set -gx {k} {_fish_quote(v)}" for k, v in env_vars(root).items()]
    return [f"export {k}={shlex.quote(v)}" for k, v in env_vars(root).items()]


def _fish_quote(value: str) -> str:
    """fish's single quotes: only ``\\`` and ``'`` are special inside them."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
