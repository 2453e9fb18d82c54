"""Tiny random MusicGen, T5 and EnCodec repos, built at test time with transformers' own classes and saved the
way their Hub repos hold them (transformers' files, audiocraft's two ``.bin`` files, the T5 SentencePiece
model), for the local Hub to serve under the real ids. Needs torch, transformers and sentencepiece (the
``test`` extra)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

CODEC = "facebook/encodec_32khz"
T5 = "google-t5/t5-base"
FAMILIES = ("facebook/musicgen-small", "facebook/musicgen-stereo-small", "facebook/musicgen-melody")
VOCAB, CODES = 48, 32
MELODY_FEATURES = {"feature_extractor_type": "MusicgenMelodyFeatureExtractor",
                   "processor_class": "MusicgenMelodyProcessor",
                   "feature_size": 12, "sampling_rate": 32000, "hop_length": 4096, "chunk_length": 30,
                   "n_fft": 16384, "num_chroma": 12, "padding_value": 0.0, "padding_side": "right",
                   "return_attention_mask": False, "stem_indices": [3, 2]}


def _spiece(folder: Path) -> Path:
    import sentencepiece as spm

    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(f"lo-fi jazz piano {i} drums guitar ambient techno rock calm" for i in range(200)))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(folder / "spiece"), vocab_size=VOCAB,
                                   model_type="unigram", hard_vocab_limit=False, pad_id=0, eos_id=1, unk_id=2,
                                   bos_id=-1, minloglevel=2)
    return folder / "spiece.model"


def build(out: Path) -> dict[str, Path]:
    """Every repo's folder (repo id -> folder), under ``out``."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        EncodecModel,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
        T5ForConditionalGeneration,
        T5Tokenizer,
    )

    torch.manual_seed(0)
    work = out / "_work"
    work.mkdir(parents=True)
    spiece = _spiece(work)
    tokenizer = T5Tokenizer(vocab_file=str(spiece), extra_ids=0)
    folders: dict[str, Path] = {}

    def folder(repo_id: str) -> Path:
        folders[repo_id] = out / repo_id
        folders[repo_id].mkdir(parents=True)
        return folders[repo_id]

    t5 = T5Config(vocab_size=VOCAB, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                  decoder_start_token_id=0)
    d = folder(T5)
    T5ForConditionalGeneration(t5).save_pretrained(d)
    tokenizer.save_pretrained(d)
    shutil.copy(spiece, d / "spiece.model")
    (d / "tf_model.h5").write_bytes(b"\x89HDF\r\n" + bytes(2000))  # a format no profile here takes

    codec = EncodecConfig(target_bandwidths=[1.5], sampling_rate=32000, audio_channels=1, num_filters=4,
                          hidden_size=8, upsampling_ratios=[8, 5, 4, 4], codebook_size=CODES, codebook_dim=8,
                          num_lstm_layers=1, chunk_length_s=None, overlap=None)
    d = folder(CODEC)
    EncodecModel(codec).save_pretrained(d)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=32000).save_pretrained(d)

    for repo_id in FAMILIES:
        stereo, melody = "stereo" in repo_id, "melody" in repo_id
        kw = dict(vocab_size=CODES, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32,
                  num_codebooks=8 if stereo else 4, audio_channels=2 if stereo else 1,
                  max_position_embeddings=64, pad_token_id=CODES, bos_token_id=CODES)
        d = folder(repo_id)
        if melody:
            cfg = MusicgenMelodyConfig(text_encoder=t5.to_dict(), audio_encoder=codec.to_dict(),
                                       decoder=MusicgenMelodyDecoderConfig(**kw).to_dict(), num_chroma=12,
                                       pad_token_id=CODES, decoder_start_token_id=CODES)
            model = MusicgenMelodyForConditionalGeneration(cfg)
            processor = tokenizer  # its feature extractor needs torchaudio, which has no build for this torch:
            (d / "preprocessor_config.json").write_text(json.dumps(MELODY_FEATURES, indent=2))  # as published
        else:
            cfg = MusicgenConfig(text_encoder=t5.to_dict(), audio_encoder=codec.to_dict(),
                                 decoder=MusicgenDecoderConfig(**kw).to_dict(), pad_token_id=CODES,
                                 decoder_start_token_id=CODES)
            model = MusicgenForConditionalGeneration(cfg)
            processor = MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer)
        model.generation_config.decoder_start_token_id = model.generation_config.pad_token_id = CODES
        model.save_pretrained(d)
        processor.save_pretrained(d)
        shutil.copy(spiece, d / "spiece.model")
        # audiocraft's two files: its language model's state, and the codec's (or, as in the stereo repos, a
        # reference naming the codec repo)
        lm = {k: v for k, v in model.decoder.state_dict().items()}
        torch.save({"best_state": lm, "xp.cfg": {"transformer_lm": {"n_q": kw["num_codebooks"]}}},
                   d / "state_dict.bin")
        torch.save({"pretrained": CODEC} if stereo else {"best_state": model.audio_encoder.state_dict()},
                   d / "compression_state_dict.bin")
    shutil.rmtree(work)
    return folders
