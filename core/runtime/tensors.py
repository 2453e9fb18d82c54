"""safetensors files checked from their headers alone: the header parses, each tensor's bytes match its dtype
and shape, the tensors tile the file to its last byte (a truncated file fails here, no weight read), the
shard index names only tensors its shards hold, and the config's layer counts and sizes match the tensors."""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .pickles import Unreadable

HEADER_MAX = 100 << 20  # safetensors' own limit on a header
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
Shapes = dict[str, list[int]]  # tensor name -> shape


def read_header(path: Path) -> Shapes:
    """The tensors of one safetensors file, checked against the file's size. Raises ``Unreadable``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise Unreadable(f"{size} bytes: too short for a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > HEADER_MAX or 8 + n > size:
            raise Unreadable(f"its header says {n} bytes, the file has {size}: truncated or not safetensors")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise Unreadable(f"its header does not parse ({e})") from None
    if not isinstance(header, dict):
        raise Unreadable("its header is not a JSON object")
    shapes: Shapes = {}
    spans: list[tuple[int, int, str]] = []
    for name, t in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = t["dtype"], t["shape"], t["data_offsets"]
            width = DTYPE_BYTES[dtype]
            if not all(isinstance(d, int) and d >= 0 for d in shape):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise Unreadable(f"tensor {name!r}: a header entry of another shape") from None
        if end - begin != width * math.prod(shape):
            raise Unreadable(f"tensor {name!r}: {end - begin} bytes for {dtype} {shape}")
        shapes[name] = list(shape)
        spans.append((begin, end, name))
    spans.sort()
    at = 0
    for begin, end, name in spans:
        if begin != at:
            raise Unreadable(f"tensor {name!r} starts at byte {begin}, the previous one ends at {at}")
        at = end
    if 8 + n + at != size:
        raise Unreadable(f"its tensors end at byte {8 + n + at}, the file has {size}: "
                         + ("truncated" if size < 8 + n + at else "bytes after the last tensor"))
    return shapes


def check_index(index: dict[str, Any], shards: dict[str, Shapes]) -> list[str]:
    """What is wrong between a shard index's ``weight_map`` and the shards' headers (empty: they agree)."""
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict):
        return ["the index has no weight_map"]
    wrong = [f"{t} is mapped to {s}, which does not hold it" for t, s in weight_map.items()
             if t not in shards.get(s, {})]
    unindexed = [t for s, shapes in shards.items() for t in shapes if weight_map.get(t) != s]
    if unindexed:
        wrong.append(f"{len(unindexed)} tensors of the shards are not in the index (first: {unindexed[0]})")
    return wrong[:5]


# Layer counts and sizes a config names, and the tensors that show them, per model type.
Layers = list[tuple[str, tuple[str, ...]]]  # (tensor prefix before a layer number, the config keys of that count)
Dims = list[tuple[str, list[tuple[tuple[str, ...], int]]]]  # (tensor, [(config keys of a dimension, offset)])
_MUSICGEN_LAYERS: Layers = [("decoder.model.decoder.layers.", ("decoder", "num_hidden_layers")),
                            ("text_encoder.encoder.block.", ("text_encoder", "num_layers"))]
_MUSICGEN_DIMS: Dims = [("decoder.model.decoder.embed_tokens.0.weight",
                         [(("decoder", "vocab_size"), 1), (("decoder", "hidden_size"), 0)])]
_LAYERS: dict[str, Layers] = {"musicgen": _MUSICGEN_LAYERS, "musicgen_melody": _MUSICGEN_LAYERS,
                              "t5": [("encoder.block.", ("num_layers",))]}
_SHAPES: dict[str, Dims] = {"musicgen": _MUSICGEN_DIMS, "musicgen_melody": _MUSICGEN_DIMS,
                            "t5": [("shared.weight", [(("vocab_size",), 0), (("d_model",), 0)])]}


def _get(config: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    value: Any = config
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    return value if isinstance(value, int) else None


def check_config(config: dict[str, Any], names: Iterable[str], shapes: Shapes) -> list[str]:
    """Where the config and the tensors disagree: a layer count or an embedding's size."""
    model_type = config.get("model_type")
    wrong: list[str] = []
    names = list(names)
    for prefix, keys in _LAYERS.get(str(model_type), []):
        want = _get(config, keys)
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        found = {int(m.group(1)) for n in names if (m := pattern.match(n))}
        if want is not None and found and found != set(range(want)):
            wrong.append(f"config.json says {'.'.join(keys)} = {want}, the weights hold {len(found)} "
                         f"({prefix}N)")
    for tensor, dims in _SHAPES.get(str(model_type), []):
        if tensor not in shapes:
            continue
        want_shape = [(_get(config, keys) or 0) + extra for keys, extra in dims]
        if all(d for d in want_shape) and shapes[tensor] != want_shape:
            wrong.append(f"{tensor} is {shapes[tensor]}, config.json says {want_shape}")
    return wrong
