"""The smoke check's child process: load each model with the real loaders on the CPU, offline, from the views
the environment names (``env_vars``), generate a few tokens, and print one JSON line per load. The only module
that imports torch, transformers, audiocraft or demucs, and only in this child: a crash, a hang or the memory a
load takes never reaches the app or the CLI that asked.

Input on stdin: ``[{"repo_id", "loader": "transformers" | "audiocraft", "codec": ID | null, "demucs": URL |
null}, ...]``. Output: ``{"repo_id", "loader", "ok", "detail", "seconds", "peak_bytes"}`` lines."""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

AUDIOCRAFT_T5 = "t5-base"  # the name audiocraft's T5Conditioner asks for (audiocraft/modules/conditioners.py)


def _transformers(repo_id: str) -> str:
    import torch
    from transformers import AutoConfig, AutoFeatureExtractor, AutoProcessor, AutoTokenizer

    model_type = AutoConfig.from_pretrained(repo_id).model_type
    with torch.no_grad():
        if model_type in ("musicgen", "musicgen_melody"):
            from transformers import MusicgenForConditionalGeneration, MusicgenMelodyForConditionalGeneration

            cls = MusicgenMelodyForConditionalGeneration if model_type == "musicgen_melody" else \
                MusicgenForConditionalGeneration
            model = cls.from_pretrained(repo_id).eval()
            note = ""
            try:
                processor: Any = AutoProcessor.from_pretrained(repo_id)
            except ImportError as e:  # a melody processor's chroma needs torchaudio: the text path still runs
                processor = AutoTokenizer.from_pretrained(repo_id)
                note = f" (the processor cannot load here: {' '.join(str(e).split())[:120]})"
            inputs = processor(text=["lo-fi piano"], padding=True, return_tensors="pt")
            audio = model.generate(**inputs, max_new_tokens=4, do_sample=False)
            return f"{cls.__name__} and {type(processor).__name__}: generated audio of shape {list(audio.shape)}{note}"
        if model_type == "encodec":
            from transformers import EncodecModel

            codec = EncodecModel.from_pretrained(repo_id).eval()
            fe = AutoFeatureExtractor.from_pretrained(repo_id)
            wave = torch.zeros(1, codec.config.audio_channels, fe.sampling_rate // 10)
            codes = codec.encode(wave).audio_codes
            return f"EncodecModel: encoded 0.1 s into codes of shape {list(codes.shape)}"
        if model_type == "t5":
            from transformers import T5EncoderModel

            tok = AutoTokenizer.from_pretrained(repo_id)
            enc = T5EncoderModel.from_pretrained(repo_id).eval()
            out = enc(**tok(["lo-fi piano"], return_tensors="pt")).last_hidden_state
            return f"T5EncoderModel: encoded text into {list(out.shape)}"
    raise RuntimeError(f"no smoke load for model type {model_type!r}")


def _audiocraft(repo_id: str, codec: str | None, demucs: str | None) -> str:
    try:
        from audiocraft.models import MusicGen  # type: ignore[import-not-found]
    except ImportError:
        return _audiocraft_calls(repo_id, codec, demucs)
    model = MusicGen.get_pretrained(repo_id, device="cpu")
    model.set_generation_params(duration=0.05)
    wav = model.generate(["lo-fi piano"])
    return f"audiocraft MusicGen.get_pretrained: generated {list(wav.shape)}"


def _audiocraft_calls(repo_id: str, codec: str | None, demucs: str | None) -> str:
    """audiocraft is not installed: the calls its loaders make, as its source makes them (models/loaders.py,
    modules/conditioners.py, demucs' pretrained.get_model through torch.hub)."""
    import torch
    from huggingface_hub import hf_hub_download
    from transformers import EncodecModel, T5EncoderModel, T5Tokenizer

    def state(filename: str) -> Any:  # loaders._get_state_dict; torch 2.1 (audiocraft's pin) unpickles in full
        path = hf_hub_download(repo_id=repo_id, filename=filename, library_name="audiocraft")
        return torch.load(path, map_location="cpu", weights_only=False)

    done = ["state_dict.bin"]
    state("state_dict.bin")
    pkg = state("compression_state_dict.bin")
    if isinstance(pkg, dict) and "pretrained" in pkg:  # CompressionModel.get_pretrained -> HF EnCodec
        EncodecModel.from_pretrained(pkg["pretrained"])
        done.append(f"EnCodec {pkg['pretrained']}")
    elif codec:
        raise RuntimeError(f"compression_state_dict.bin does not name {codec}")
    T5Tokenizer.from_pretrained(AUDIOCRAFT_T5)
    T5EncoderModel.from_pretrained(AUDIOCRAFT_T5)
    done.append("t5-base tokenizer and encoder")
    if demucs:
        torch.hub.load_state_dict_from_url(demucs, map_location="cpu", check_hash=True)
        done.append("htdemucs from TORCH_HOME")
    return "audiocraft not installed; its loads reproduced: " + ", ".join(done)


def main() -> int:
    tasks = json.loads(sys.stdin.read())
    for task in tasks:
        started = time.perf_counter()
        try:
            if task["loader"] == "transformers":
                detail = _transformers(task["repo_id"])
            else:
                detail = _audiocraft(task["repo_id"], task.get("codec"), task.get("demucs"))
            ok = True
        except Exception as e:  # the loader's own words, on one line
            ok, detail = False, f"{type(e).__name__}: {' '.join(str(e).split())[:400]}"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"repo_id": task["repo_id"], "loader": task["loader"], "ok": ok, "detail": detail,
                          "seconds": round(time.perf_counter() - started, 3), "peak_bytes": peak}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
