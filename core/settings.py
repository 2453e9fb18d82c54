"""Settings from the environment and the root's ``.env`` (the real environment wins). The token is never shown."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_MIN_FREE = 1 << 30
DEFAULT_RETRIES = 6
DEFAULT_SERVICE_IDLE = 60.0
DEFAULT_CONNECTIONS = 8
DEFAULT_SEGMENT_MIN = 64 << 20


@dataclass(frozen=True)
class Settings:
    """Everything a front end needs to talk to the Hub and find the workspace."""

    root: Path
    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = field(default=None, repr=False)
    read_timeout: float = DEFAULT_READ_TIMEOUT
    min_free: int = DEFAULT_MIN_FREE
    retries: int = DEFAULT_RETRIES
    keymap: str = ""  # the app's key remapping, ``id=keys`` entries (parsed by the app, which knows the ids)
    debug: bool = False  # full tracebacks for bug reports instead of one-line errors
    service_idle: float = DEFAULT_SERVICE_IDLE  # seconds the download service waits, with nothing to do, before it ends
    connections: int = DEFAULT_CONNECTIONS  # ranged connections for one big file (1: one stream per file)
    segment_min: int = DEFAULT_SEGMENT_MIN  # files from this size on are fetched in ranges

    @property
    def token_state(self) -> str:
        """'set' or 'not set': all that may ever be shown of the token."""
        return "set" if self.token else "not set"

    def environ(self) -> dict[str, str]:
        """These settings as the variables ``load_settings`` reads, for a process started to work as this one does
        (the download service). The token goes into that process's environment only, never onto its socket."""
        env = {"HF_ENDPOINT": self.endpoint, "MUSICGEN_READ_TIMEOUT": repr(self.read_timeout),
               "MUSICGEN_MIN_FREE": str(self.min_free), "MUSICGEN_RETRIES": str(self.retries),
               "MUSICGEN_SERVICE_IDLE": repr(self.service_idle), "MUSICGEN_DEBUG": "1" if self.debug else "",
               "MUSICGEN_CONNECTIONS": str(self.connections), "MUSICGEN_SEGMENT_MIN": str(self.segment_min)}
        if self.token:
            env["HF_TOKEN"] = self.token
        return env


def is_true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env(root: Path) -> dict[str, str]:
    dot = root / ".env"
    values: dict[str, str] = {}
    if dot.is_file():
        from dotenv import dotenv_values  # only when there is a .env: headless commands start faster

        values = {k: v for k, v in dotenv_values(dot).items() if v is not None}
    values.update(os.environ)
    return values


def load_settings(root: str | Path | None = None) -> Settings:
    """Resolve the root (argument, else ``MUSICGEN_ROOT``, else the current directory) and read its settings."""
    base = Path(root or os.environ.get("MUSICGEN_ROOT") or ".").expanduser()
    env = _env(base)
    if root is None and "MUSICGEN_ROOT" in env and "MUSICGEN_ROOT" not in os.environ:
        base = Path(env["MUSICGEN_ROOT"]).expanduser()
    from .sizes import parse_size

    return Settings(
        root=base.resolve(),
        endpoint=(env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
        token=env.get("HF_TOKEN") or None,
        read_timeout=float(env.get("MUSICGEN_READ_TIMEOUT") or DEFAULT_READ_TIMEOUT),
        min_free=parse_size(env.get("MUSICGEN_MIN_FREE") or str(DEFAULT_MIN_FREE)),
        retries=max(1, int(env.get("MUSICGEN_RETRIES") or DEFAULT_RETRIES)),
        keymap=env.get("MUSICGEN_KEYMAP", ""),
        debug=is_true(env.get("MUSICGEN_DEBUG", "")),
        service_idle=float(env.get("MUSICGEN_SERVICE_IDLE") or DEFAULT_SERVICE_IDLE),
        connections=max(1, int(env.get("MUSICGEN_CONNECTIONS") or DEFAULT_CONNECTIONS)),
        segment_min=parse_size(env.get("MUSICGEN_SEGMENT_MIN") or str(DEFAULT_SEGMENT_MIN)),
    )
