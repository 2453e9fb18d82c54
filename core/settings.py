"""Settings from the environment and the root's ``.env`` (the real environment wins). The token is never shown."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_MIN_FREE = 1 << 30
DEFAULT_RETRIES = 6
DEFAULT_SERVICE_IDLE = 60.0
DEFAULT_CONNECTIONS = 8
DEFAULT_SEGMENT_MIN = 64 << 20
DEFAULT_CHECKSUM_MIN = 100 << 20


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
    checksum_min: int = DEFAULT_CHECKSUM_MIN  # the files over this size get a line in the checksum files
    max_rate: int = 0  # bytes a second for all of a run's (or the service's) connections together; 0: no cap
    on_done: str = ""  # a command the service runs as each repo's job ends (split like a shell would, none run)
    bell: bool = True  # the app rings the terminal bell when a repo finishes while its window is not watched
    sources_endpoint: str = ""  # replaces the scheme and host of every off-Hub URL (a mirror, a test server)
    catalog_file: str = ""  # a user's catalog of off-Hub sources, merged over the built-in one

    @property
    def token_id(self) -> str:
        """A fingerprint of the token ("" without one), for the root's service to tell whether a client has the
        same token as it: never the token, and never sent beyond the owner-only socket."""
        if not self.token:
            return ""
        import hashlib

        return hashlib.sha256(b"musicgen-tui token:" + self.token.encode()).hexdigest()[:16]

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
               "MUSICGEN_CONNECTIONS": str(self.connections), "MUSICGEN_SEGMENT_MIN": str(self.segment_min),
               "MUSICGEN_CHECKSUM_MIN": str(self.checksum_min), "MUSICGEN_MAX_RATE": str(self.max_rate),
               "MUSICGEN_ON_DONE": self.on_done, "MUSICGEN_BELL": "1" if self.bell else "0",
               "MUSICGEN_SOURCES_ENDPOINT": self.sources_endpoint, "MUSICGEN_CATALOG": self.catalog_file}
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


class SettingError(ValueError):
    """A setting whose value cannot be used: the message names it, its value and what is accepted."""


def _read(env: dict[str, str], name: str, default: object, parse: Callable[[str], Any], accepted: str,
          ok: Callable[[Any], bool] = lambda v: True) -> Any:
    """``env[name]`` parsed, else ``default``; a value that does not parse or is out of range is a SettingError."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = parse(text)
    except (ValueError, OverflowError):
        value = None
    if value is None or not ok(value):
        raise SettingError(f"{name}={text!r} is not accepted: {accepted}")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _endpoint(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text.rstrip("/")) <= len("https://"):
        raise ValueError(text)
    return text.rstrip("/")


def load_settings(root: str | Path | None = None) -> Settings:
    """Resolve the root (argument, else ``MUSICGEN_ROOT``, else the current directory) and read its settings.
    Every setting is checked here, once: a bad one raises ``SettingError`` naming it."""
    base = Path(root or os.environ.get("MUSICGEN_ROOT") or ".").expanduser()
    env = _env(base)
    if root is None and "MUSICGEN_ROOT" in env and "MUSICGEN_ROOT" not in os.environ:
        base = Path(env["MUSICGEN_ROOT"]).expanduser()
    from .sizes import parse_size

    return Settings(
        root=base.resolve(),
        endpoint=_read(env, "HF_ENDPOINT", DEFAULT_ENDPOINT, _endpoint, "an http:// or https:// URL"),
        token=env.get("HF_TOKEN") or None,
        read_timeout=_read(env, "MUSICGEN_READ_TIMEOUT", DEFAULT_READ_TIMEOUT, _finite,
                           "seconds, a number above 0 (like 30)", lambda v: v > 0),
        min_free=_read(env, "MUSICGEN_MIN_FREE", DEFAULT_MIN_FREE, parse_size, "a size like 1G, 500M or 0"),
        retries=_read(env, "MUSICGEN_RETRIES", DEFAULT_RETRIES, int, "a whole number from 1 to 100",
                      lambda v: 1 <= v <= 100),
        keymap=env.get("MUSICGEN_KEYMAP", ""),
        debug=is_true(env.get("MUSICGEN_DEBUG", "")),
        service_idle=_read(env, "MUSICGEN_SERVICE_IDLE", DEFAULT_SERVICE_IDLE, _finite,
                           "seconds, a number from 0 up (like 60)", lambda v: v >= 0),
        connections=_read(env, "MUSICGEN_CONNECTIONS", DEFAULT_CONNECTIONS, int, "a whole number from 1 to 64",
                          lambda v: 1 <= v <= 64),
        segment_min=_read(env, "MUSICGEN_SEGMENT_MIN", DEFAULT_SEGMENT_MIN, parse_size,
                          "a size above 0, like 64M", lambda v: v > 0),
        checksum_min=_read(env, "MUSICGEN_CHECKSUM_MIN", DEFAULT_CHECKSUM_MIN, parse_size,
                           "a size like 100M, 20K or 0"),
        max_rate=_read(env, "MUSICGEN_MAX_RATE", 0, parse_size, "bytes a second, like 20M, 500K or 0 (no cap)"),
        on_done=_read(env, "MUSICGEN_ON_DONE", "", _command, "a command line with balanced quotes"),
        bell=_read(env, "MUSICGEN_BELL", True, _flag, "1 or 0 (also true/false, yes/no, on/off)"),
        sources_endpoint=_read(env, "MUSICGEN_SOURCES_ENDPOINT", "", _endpoint, "an http:// or https:// URL"),
        catalog_file=_read(env, "MUSICGEN_CATALOG", "", _existing_file, "the path of a readable TOML file"),
    )


def _existing_file(text: str) -> str:
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(text)
    return str(path)


def _command(text: str) -> str:
    import shlex

    shlex.split(text)  # a ValueError names nothing of the command: the setting's name is said instead
    return text


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(text)
    return is_true(value)
