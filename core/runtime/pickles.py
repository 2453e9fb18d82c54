"""PyTorch's ``.bin`` files read without running them: the zip's directory, and the pickle's opcodes parsed
with ``pickletools`` (never unpickled), so a stranger's file can be checked and a reference file's codec named."""

from __future__ import annotations

import io
import pickletools
import re
import zipfile
from pathlib import Path

REFERENCE_PICKLE_MAX = 1 << 20  # bytes read of a reference's pickle: a zip member can inflate a thousandfold
PICKLE_MAX = 256 << 20  # bytes of a checkpoint's data.pkl parsed at most (a 10 GB state dict's is a few MB)
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Unreadable(ValueError):
    """A file that is not what its name says; the message says what is wrong, in a few words."""


def repo_ids_in_pickle(data: bytes) -> list[str]:
    """Repo ids among the strings of a pickle (plain, or inside a torch zip), read with pickletools: the
    opcodes are parsed, nothing is ever unpickled or run."""
    blobs = [data]
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                blobs = [z.open(n).read(REFERENCE_PICKLE_MAX) for n in z.namelist() if n.endswith(".pkl")]
        except (zipfile.BadZipFile, OSError):
            return []
    found: set[str] = set()
    for blob in blobs:
        try:
            for _op, arg, _pos in pickletools.genops(blob):
                if isinstance(arg, str) and _REPO_ID.match(arg) and "encodec" in arg.lower():
                    found.add(arg)
        except Exception:
            continue
    return sorted(found)


def check_torch_file(path: Path) -> str:
    """What a ``.bin`` / ``.th`` holds, checked without loading it: a torch zip whose directory lies inside the
    file and whose ``data.pkl`` parses, or a plain pickle that parses. Raises ``Unreadable``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(2)
        if magic == b"PK":
            return _check_zip(f, size)
        if magic[:1] == b"\x80":
            f.seek(0)
            _parse(f.read(REFERENCE_PICKLE_MAX), "the pickle")
            return "a plain pickle"
    raise Unreadable("neither a torch zip nor a pickle (the start of the file is wrong)")


def _check_zip(f: io.BufferedReader, size: int) -> str:
    try:
        z = zipfile.ZipFile(f)
    except zipfile.BadZipFile as e:
        raise Unreadable(f"its zip directory is unreadable ({e}): the file is truncated or damaged") from None
    with z:
        infos = z.infolist()
        pkl = [i for i in infos if i.filename.endswith("data.pkl")]
        if not pkl:
            raise Unreadable("a zip without data.pkl: not a torch checkpoint")
        for info in infos:
            if info.header_offset + len(info.filename) + 30 + info.compress_size > size:
                raise Unreadable(f"{info.filename} runs past the end of the file: the file is truncated")
        if pkl[0].file_size > PICKLE_MAX:
            raise Unreadable(f"data.pkl says {pkl[0].file_size} bytes, over {PICKLE_MAX}")
        try:
            data = z.read(pkl[0])
        except (zipfile.BadZipFile, OSError) as e:
            raise Unreadable(f"data.pkl cannot be read ({e})") from None
        _parse(data, "data.pkl")
        return f"a torch zip of {len(infos) - 1} records"


def _parse(data: bytes, what: str) -> None:
    try:
        for _ in pickletools.genops(data):
            pass
    except Exception as e:
        raise Unreadable(f"{what} does not parse as a pickle ({e})") from None
