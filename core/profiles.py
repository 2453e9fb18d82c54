"""Profiles: exactly the files a framework needs, computed from the repo's real listing.

- ``audiocraft``: ``state_dict.bin`` and ``compression_state_dict.bin`` (what audiocraft's loaders read);
- ``transformers``: configs, tokenizer files and one weight format (safetensors when the repo has them,
  else ``pytorch_model*.bin``), each with its index; never the fp32 copies unless asked;
- ``full``: everything.

Datasets are always ``full``. A model without the files a profile needs falls back to ``full``, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .remote import RemoteFile

PROFILES = ("full", "audiocraft", "transformers")
AUDIOCRAFT_FILES = ("state_dict.bin", "compression_state_dict.bin")
# What transformers' model and processor classes read besides the weights: the published repos' feature
# extractor file (preprocessor_config.json) and the one transformers 5 saves instead (processor_config.json).
TRANSFORMERS_SMALL = ("config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
                      "spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_SAFETENSORS = re.compile(r"^model(-\d+-of-\d+)?(\.fp32)?\.safetensors(\.index\.json)?$")
_PYTORCH = re.compile(r"^pytorch_model(-\d+-of-\d+)?(\.fp32)?\.bin(\.index\.json)?$")
_FP32 = re.compile(r"\.fp32[.-]")


def next_profile(profile: str) -> str:
    """The profile after ``profile``, in the order of PROFILES (for a key that cycles through them)."""
    return PROFILES[(PROFILES.index(profile) + 1) % len(PROFILES)]


def _weights(files: Sequence[RemoteFile], pattern: re.Pattern[str], fp32: bool) -> list[RemoteFile]:
    return [f for f in files if pattern.match(f.path) and (fp32 or not _FP32.search(f.path))]


def apply_profile(files: Sequence[RemoteFile], profile: str, repo_type: str = "model",
                  fp32: bool = False) -> tuple[Sequence[RemoteFile], str | None]:
    """The files ``profile`` takes from a listing, and a note when it had to fall back to ``full``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (use {', '.join(PROFILES)})")
    if profile == "full" or repo_type != "model":
        return files, None  # as given, not copied: a dataset's listing can hold 300,000 files
    if profile == "audiocraft":
        chosen = [f for f in files if f.path in AUDIOCRAFT_FILES]
        if not chosen:
            return list(files), "no audiocraft weights here (state_dict.bin): fetching the full repo"
        return chosen, None
    weights = _weights(files, _SAFETENSORS, fp32)
    weight_files = [f for f in weights if not f.path.endswith(".json")]
    if not weight_files:
        weights = _weights(files, _PYTORCH, fp32)
        weight_files = [f for f in weights if not f.path.endswith(".json")]
    if not weight_files:
        return list(files), "no transformers weights here (model*.safetensors, pytorch_model*.bin): fetching all"
    return [f for f in files if f.path in TRANSFORMERS_SMALL or f in weights], None
