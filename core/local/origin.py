"""Where an off-Hub repo's files came from (publisher, licence, citation, each part's URL and checksum), kept
beside its record for the inventories: ``.cache/huggingface/musicgen-tui-source.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .damaged import DAMAGED, unreadable
from .jsonio import write_json_atomic
from .metadata import hf_dir

SOURCE_NAME = "musicgen-tui-source.json"


def write_origin(local_dir: Path, origin: dict[str, Any]) -> None:
    write_json_atomic(hf_dir(local_dir) / SOURCE_NAME, origin)


def read_origin(local_dir: Path) -> dict[str, Any] | None:
    """The repo's origin, or None (a Hub repo; a damaged file is said once in the log)."""
    path = hf_dir(local_dir) / SOURCE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return data
    except FileNotFoundError:
        return None
    except DAMAGED as e:
        unreadable(path, e)
        return None
