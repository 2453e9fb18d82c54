"""Small stand-ins for every catalog repo: the real repos' file names and folders, deterministic bytes.

Sizes follow the real files (see the shared reference notes) scaled down 50,000 times by default, so a whole
catalog is a few megabytes and the tests stay fast; the demo scales them down 1,000 times (``localhub.demo``).
"""

from __future__ import annotations

import hashlib
import json
import pickle

from core.catalog import default_catalog

from .repos import HubFile, HubRepo, Tiled

SCALE = 50_000
CLIP = 2_000  # bytes of a GTZAN clip stand-in (a real 30 s clip is 1.32 MB)
BLOCK = 256 * 1024  # a bigger stand-in repeats its first BLOCK bytes: a catalog of 150 MB holds 35 MB
KB, MB, GB = 1_000, 1_000_000, 1_000_000_000

_TOKENIZER = {"special_tokens_map.json": 2_200, "spiece.model": 792 * KB, "tokenizer.json": 2_420 * KB,
              "tokenizer_config.json": 2_400}
_COMMON = {".gitattributes": 1_500, "config.json": 7_800, "generation_config.json": 224,
           "preprocessor_config.json": 300, **_TOKENIZER}
_REFERENCE = 589  # compression_state_dict.bin that points at facebook/encodec_32khz

_MODELS: dict[str, dict[str, int]] = {
    "facebook/musicgen-small": {"state_dict.bin": 841 * MB, "compression_state_dict.bin": 236 * MB,
                                "pytorch_model.bin": 2_360 * MB, "model.safetensors": 2_360 * MB},
    "facebook/musicgen-medium": {"state_dict.bin": 3_680 * MB, "compression_state_dict.bin": 236 * MB,
                                 "pytorch_model.bin": 8_040 * MB},
    "facebook/musicgen-large": {"state_dict.bin": 6_510 * MB, "compression_state_dict.bin": 236 * MB,
                                "pytorch_model-00001-of-00002.bin": 9_990 * MB,
                                "pytorch_model-00002-of-00002.bin": 3_730 * MB,
                                "pytorch_model.bin.index.json": 60 * KB},
    "facebook/musicgen-melody": {"state_dict.bin": 2_770 * MB, "compression_state_dict.bin": 236 * MB,
                                 "model-00001-of-00002.safetensors": 4_980 * MB,
                                 "model-00002-of-00002.safetensors": 1_150 * MB,
                                 "model.safetensors.index.json": 67 * KB},
    "facebook/musicgen-melody-large": {"state_dict.bin": 4_900 * MB, "compression_state_dict.bin": _REFERENCE,
                                       "model-00001-of-00003.safetensors": 4_990 * MB,
                                       "model-00002-of-00003.safetensors": 4_970 * MB,
                                       "model-00003-of-00003.safetensors": 540 * MB,
                                       "model.safetensors.index.json": 67 * KB},
    "facebook/musicgen-stereo-small": {"state_dict.bin": 874 * MB, "compression_state_dict.bin": _REFERENCE,
                                       "model.safetensors": 1_220 * MB, "model.fp32.safetensors": 2_430 * MB,
                                       "pytorch_model.bin": 1_220 * MB, "pytorch_model.fp32.bin": 2_430 * MB},
    "facebook/musicgen-stereo-medium": {"state_dict.bin": 3_730 * MB, "compression_state_dict.bin": _REFERENCE,
                                        "model.safetensors": 4_070 * MB, "pytorch_model.bin": 4_070 * MB,
                                        "model.fp32.safetensors.index.json": 60 * KB},
    "facebook/musicgen-stereo-large": {"state_dict.bin": 6_580 * MB, "compression_state_dict.bin": _REFERENCE,
                                       "model-00001-of-00002.safetensors": 4_990 * MB,
                                       "model-00002-of-00002.safetensors": 1_930 * MB,
                                       "model.safetensors.index.json": 67 * KB,
                                       "pytorch_model-00001-of-00002.bin": 4_990 * MB,
                                       "pytorch_model-00002-of-00002.bin": 1_930 * MB},
    "facebook/musicgen-stereo-melody": {"state_dict.bin": 3_000 * MB, "compression_state_dict.bin": _REFERENCE,
                                        "model-00001-of-00002.safetensors": 5_000 * MB,
                                        "model-00002-of-00002.safetensors": 1_330 * MB,
                                        "model.safetensors.index.json": 67 * KB},
    "facebook/musicgen-stereo-melody-large": {"state_dict.bin": 6_600 * MB, "compression_state_dict.bin": _REFERENCE,
                                              "model-00001-of-00003.safetensors": 4_990 * MB,
                                              "model-00002-of-00003.safetensors": 4_970 * MB,
                                              "model-00003-of-00003.safetensors": 680 * MB,
                                              "model.safetensors.index.json": 67 * KB},
}
_CODECS = {"facebook/encodec_32khz": 236 * MB, "facebook/encodec_24khz": 93 * MB, "facebook/encodec_48khz": 76 * MB}
_DATASETS: dict[str, dict[str, int]] = {
    "magenta/nsynth": {"nsynth-train.jsonwav.tar.gz": 22_700 * MB, "nsynth-valid.jsonwav.tar.gz": 1_600 * MB,
                       "nsynth-test.jsonwav.tar.gz": 900 * MB},
    "ionosphere/maestro": {"maestro-v3.0.0.zip": 101 * GB, "maestro-v3.0.0-midi.zip": 56 * MB,
                           "maestro-v3.0.0.csv": 300 * KB},
    "freesound/audio-tagging": {"FSDKaggle2018.audio_train.zip": 3_800 * MB,
                                "FSDKaggle2018.audio_test.zip": 800 * MB,
                                "FSDKaggle2018.meta/train_post_competition.csv": 400 * KB},
    "marsyas/gtzan": {"gtzan.py": 4 * KB, "data/genres.tar.gz": 1_230 * MB},
    "polyfloyd/fma": {"fma_metadata.zip": 342 * MB, "fma_small.zip": 7_200 * MB},
    "muso-ai/musicnet": {"musicnet.tar.gz": 11_100 * MB, "musicnet_metadata.csv": 100 * KB},
    "google/MusicCaps": {"musiccaps-public.csv": 2_940 * KB},
}
_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


def reference_file(codec: str = "facebook/encodec_32khz") -> bytes:
    """A 589-byte pickled dict like audiocraft's: it names the codec repo instead of holding weights."""
    blob = b""
    for n in range(_REFERENCE, 0, -1):
        blob = pickle.dumps({"pretrained": codec, "xp.cfg": "x" * n}, protocol=2)
        if len(blob) <= _REFERENCE:
            break
    return blob + b"\0" * (_REFERENCE - len(blob))


def _bytes(seed: str, size: int) -> bytes:
    """``size`` deterministic pseudo-random bytes."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


def _file(repo_id: str, path: str, real_size: int, scale: int) -> HubFile:
    if path.endswith(".json") and real_size < 100 * KB:
        text = json.dumps({"_name_or_path": repo_id, "stand_in": True, "file": path}, indent=2) + "\n"
        return HubFile(path, text.encode())
    if path == "compression_state_dict.bin" and real_size == _REFERENCE:
        return HubFile(path, reference_file(), lfs=True)
    return _random(path, repo_id + path, max(1, real_size // scale))


def _random(path: str, seed: str, size: int) -> HubFile:
    """A file of ``size`` bytes from ``seed``: the same first BLOCK bytes whatever the size."""
    if size > BLOCK:
        return HubFile(path, tiled=Tiled(_bytes(seed, BLOCK), size))
    return HubFile(path, _bytes(seed, size))


def _readme(repo_id: str, kind: str) -> HubFile:
    front = "---\nlicense: cc-by-nc-4.0\ntags:\n- music\n---\n" if kind == "model" else \
        "---\nlicense: cc-by-4.0\ntask_categories:\n- audio-classification\n---\n"
    body = (f"# {repo_id} (stand-in)\n\nA tiny offline stand-in for the real `{repo_id}` {kind} repo: the same file "
            "names and folders, a few bytes each, served by musicgen-tui's local Hub.\n")
    return HubFile("README.md", (front + body).encode())


def standin(repo_type: str, repo_id: str, scale: int = SCALE, clip: int = CLIP) -> HubRepo:
    """The stand-in for one catalog repo, its files ``scale`` times smaller than the real ones (GTZAN's clips,
    which the real repo holds in one archive, ``clip`` bytes each)."""
    if repo_type == "model":
        sizes = dict(_COMMON)
        if repo_id in _CODECS:
            sizes = {".gitattributes": 1_500, "config.json": 2_000, "preprocessor_config.json": 300,
                     "model.safetensors": _CODECS[repo_id], "pytorch_model.bin": _CODECS[repo_id]}
        elif repo_id == "google-t5/t5-base":  # every framework's weights, as on the Hub
            sizes = {".gitattributes": 1_500, "config.json": 1_200, "generation_config.json": 147,
                     "spiece.model": 792 * KB, "tokenizer.json": 1_390 * KB, "model.safetensors": 892 * MB,
                     "pytorch_model.bin": 892 * MB, "tf_model.h5": 892 * MB, "flax_model.msgpack": 892 * MB,
                     "rust_model.ot": 892 * MB}
        elif repo_id == "facebook/demucs":
            sizes = {"htdemucs.th": 84 * MB, "htdemucs_ft/f7e0c4bc-ba3fe64a.th": 84 * MB}
        else:
            sizes.update(_MODELS.get(repo_id, {"model.safetensors": 100 * MB}))
        files = [_file(repo_id, p, s, scale) for p, s in sizes.items()]
        return HubRepo(repo_id, "model", [_readme(repo_id, "model"), *files])
    sizes = dict(_DATASETS.get(repo_id, {"data/train.csv": 1 * MB}))
    files = [_file(repo_id, p, s, scale) for p, s in sizes.items()]
    if repo_id == "marsyas/gtzan":
        files += [_random(f"data/genres/{g}/{g}.{i:05d}.wav", f"{g}{i}", clip + i) for g in _GENRES
                  for i in range(10)]
    return HubRepo(repo_id, "dataset", [_readme(repo_id, "dataset"), *files])


def catalog_standins(everything: bool = False, *, scale: int = SCALE, clip: int = CLIP) -> list[HubRepo]:
    """Stand-ins in catalog order, shaped like the public Hub: the seed ids it lacks (entries with a ``source``)
    are left out, unless ``everything`` (a mirror that carries them under the seed id)."""
    return [standin(e.ref.repo_type, e.repo_id, scale, clip) for e in default_catalog().entries
            if everything or not e.source]
