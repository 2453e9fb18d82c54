"""Stand-ins of the catalog's six off-Hub systems, served by ``PublisherHosts`` at their real URL paths: tiny
archives of the publishers' own layouts (NSynth's jsonwav tar.gz, MAESTRO's MIDI zip, FSDKaggle2018's zips,
FMA's zips, MusicNet's tar.gz, demucs' ``.th`` weights). Their bytes cannot carry the publishers' published
checksums (FMA's sha1s, demucs' sha256 prefixes), so ``catalog_toml`` is a user catalog (``MUSICGEN_CATALOG``)
overriding those two sources with the stand-ins' own values; the other four check what the hosts serve at run
time (Zenodo's md5s, GCS's x-goog-hash) or pin their first download."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zipfile

from .repos import HubFile

DEMUCS = ("955717e8-8726e21a.th", "5c90dfd2-34c22ccb.th")


def _bytes(seed: str, size: int) -> bytes:
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def torch_zip(obj: object, padding: bytes = b"") -> bytes:
    """A file ``torch.load`` reads (its zip layout, with a pickle of plain values), made without torch; the
    padding stands in for the weights' bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/.data/serialization_id", "0" * 40)
        zf.writestr("archive/padding", padding)
    return buf.getvalue()


def offhub_standins() -> tuple[dict[str, HubFile], dict[int, list[HubFile]]]:
    """(files by URL path, Zenodo records by id)."""
    nsynth = {f"nsynth-{split}.jsonwav.tar.gz": tar_gz(
        {f"nsynth-{split}/examples.json": b'{"bass_synthetic_033-022-050": {"pitch": 22}}\n',
         **{f"nsynth-{split}/audio/note_{i:03d}.wav": _bytes(f"{split}{i}", 3_000) for i in range(12)}})
        for split in ("test", "valid", "train")}
    files = {f"/datasets/nsynth/{name}": HubFile(name, data) for name, data in nsynth.items()}
    files["/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip"] = HubFile("maestro-v3.0.0-midi.zip", zip_of(
        {"maestro-v3.0.0/maestro-v3.0.0.csv": b"canonical_composer,midi_filename\n",
         **{f"maestro-v3.0.0/2018/piece_{i}.midi": _bytes(f"midi{i}", 2_000) for i in range(5)}}))
    files["/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0.zip"] = HubFile("maestro-v3.0.0.zip", zip_of(
        {"maestro-v3.0.0/2018/piece_0.wav": _bytes("wav0", 40_000)}))
    for name in ("metadata", "small", "medium", "large", "full"):
        files[f"/fma/fma_{name}.zip"] = HubFile(f"fma_{name}.zip", zip_of(
            {f"fma_{name}/000/000002.mp3": _bytes(f"fma{name}", 5_000), f"fma_{name}/README.txt": b"FMA\n"}))
    for name in DEMUCS:
        files[f"/demucs/hybrid_transformer/{name}"] = HubFile(name, torch_zip(
            {"klass": "demucs.htdemucs.HTDemucs", "args": [], "kwargs": {"model": name}, "state": {}},
            _bytes(name, 60_000)))
    records = {
        2552860: [HubFile(f"FSDKaggle2018.{part}.zip", zip_of(
            {f"FSDKaggle2018.{part}/{i:08x}.wav": _bytes(f"fsd{part}{i}", 4_000) for i in range(4)}))
            for part in ("meta", "doc", "audio_test", "audio_train")],
        5120004: [HubFile("musicnet_midis.tar.gz", tar_gz({f"musicnet_midis/Bach/{i}.mid": _bytes(f"mn{i}", 1_500)
                                                           for i in range(6)})),
                  HubFile("musicnet_metadata.csv", b"id,composer\n1727,Schubert\n"),
                  HubFile("musicnet.tar.gz", tar_gz({"musicnet/train_data/1727.wav": _bytes("mnwav", 30_000)}))],
    }
    return files, records


def catalog_toml(files: dict[str, HubFile]) -> str:
    """A user catalog giving FMA and demucs the stand-ins' own checksums (and their real URLs and layout)."""
    def sha1(path: str) -> str:
        return hashlib.sha1(files[path].data or b"").hexdigest()

    def prefix(path: str) -> str:
        return hashlib.sha256(files[path].data or b"").hexdigest()[:8]

    out = ['[[sources]]\nid = "polyfloyd/fma"\ntype = "dataset"\npublisher = "FMA (stand-in)"\ndefault = "small"\n'
           'licence = "CC-BY-4.0"\ncitation = "Defferrard et al. FMA: A Dataset for Music Analysis. ISMIR 2017."\n'
           '[sources.profiles]\nsmall = ["fma_metadata.zip", "fma_small.zip"]\nall = ["*"]\n']
    for name in ("metadata", "small", "medium", "large", "full"):
        out.append(f'[[sources.parts]]\nname = "fma_{name}.zip"\n'
                   f'url = "https://os.unil.cloud.switch.ch/fma/fma_{name}.zip"\n'
                   f'checksum = "sha1:{sha1(f"/fma/fma_{name}.zip")}"\n')
    out.append('[[sources]]\nid = "facebook/demucs"\ntype = "model"\npublisher = "Meta (stand-in)"\nlicence = "MIT"\n'
               'default = "htdemucs"\n[sources.profiles]\nhtdemucs = ["955717e8-8726e21a.th"]\n'
               'htdemucs_6s = ["5c90dfd2-34c22ccb.th"]\nall = ["*"]\n')
    for name in DEMUCS:
        out.append(f'[[sources.parts]]\nname = "{name}"\n'
                   f'url = "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/{name}"\n'
                   f'checksum = "sha256-prefix:{prefix(f"/demucs/hybrid_transformer/{name}")}"\n'
                   f'dest = "hub/checkpoints/{name}"\n')
    return "\n".join(out)
