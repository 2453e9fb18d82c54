"""A tar pack's parts read back as one stream: each part found and of the size ``NAME.tar.parts`` lists (else
named: missing, cut), and the members of the stream read header by header into reused buffers (ustar headers,
and the PAX records ``pack`` writes for long or non-ASCII names). Anything else in the stream is refused."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from .packs import PackError, part_name, parts_file, read_text_capped, regular_fd

BLOCK = tarfile.BLOCKSIZE
PAX_MAX = 1 << 20  # bytes of PAX records a member may have
_ZERO = bytes(BLOCK)


class PartReader:
    """The parts of ``NAME.tar`` as one stream; all of them are checked to be there, at their sizes, first."""

    def __init__(self, base: Path) -> None:
        listed = parts_file(base)
        try:
            lines = read_text_capped(listed).splitlines()
        except FileNotFoundError:
            raise PackError(f"{listed}: missing: not a musicgen-tui pack, or one not finished (run pack again)") \
                from None
        except OSError as e:
            raise PackError(f"{listed}: unreadable ({e.strerror or e})") from None
        self.parts: list[tuple[int, Path]] = []
        for i, line in enumerate(lines):
            size, _, name = line.partition(" ")
            if not size.isdigit() or name != part_name(base, i).name:
                raise PackError(f"{listed}: line {i + 1} names no part of {base.name}")
            self.parts.append((int(size), base.with_name(name)))
        for want, path in self.parts:  # all of them, before anything is read
            try:
                got = os.lstat(path).st_size
            except FileNotFoundError:
                raise PackError(f"{path.name}: missing (part of {base.name})") from None
            if got != want:
                raise PackError(f"{path.name}: {got} bytes, {want} listed: cut or damaged")
        self.index, self.fd = -1, -1
        self.current = self.parts[0][1].name if self.parts else base.name

    def readinto(self, view: memoryview) -> int:
        while True:
            if self.fd >= 0:
                n = os.readv(self.fd, [view])
                if n:
                    return n
                os.close(self.fd)
                self.fd = -1
            if self.index + 1 >= len(self.parts):
                return 0
            self.index += 1
            path = self.parts[self.index][1]
            self.current = path.name
            self.fd = regular_fd(path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class TarMembers:
    """Members of the stream: ``next()`` gives (name, size) of a regular file, or None at the end; ``readinto``
    reads its data (never past it)."""

    def __init__(self, parts: PartReader) -> None:
        self.parts = parts
        self.left = self.pad = 0

    def exact(self, n: int) -> bytes:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = self.parts.readinto(view[got:])
            if not k:
                raise PackError(f"{self.parts.current}: the stream ends inside a member: cut")
            got += k
        return bytes(buf)

    def _header(self) -> tarfile.TarInfo | None:
        block = self.exact(BLOCK)
        if block == _ZERO:
            return None
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            raise PackError(f"{self.parts.current}: a damaged tar header ({e})") from None

    def next(self) -> tuple[str, int] | None:
        if self.left:
            self.exact(self.left)
            self.left = 0
        if self.pad:
            self.exact(self.pad)
            self.pad = 0
        info = self._header()
        if info is None:
            return None
        pax: dict[str, str] = {}
        if info.type == tarfile.XHDTYPE:
            if info.size > PAX_MAX:
                raise PackError(f"{self.parts.current}: PAX records of {info.size} bytes: tampered")
            pax = _pax(self.exact(info.size + (-info.size % BLOCK))[: info.size], self.parts.current)
            info = self._header()
            if info is None:
                raise PackError(f"{self.parts.current}: PAX records with no member after them: damaged")
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise PackError(f"{self.parts.current}: {info.name!r} is no regular file: tampered")
        try:
            size = int(pax["size"]) if "size" in pax else info.size
        except ValueError:
            raise PackError(f"{self.parts.current}: a PAX size that is no number: damaged") from None
        self.left, self.pad = size, -size % BLOCK
        return pax.get("path", info.name), size

    def readinto(self, view: memoryview) -> int:
        if not self.left:
            return 0
        n = self.parts.readinto(view[: min(len(view), self.left)])
        self.left -= n
        return n

    def read_member(self) -> bytes:
        data = self.exact(self.left)
        self.left = 0
        return data


def _pax(data: bytes, where: str) -> dict[str, str]:
    """PAX records: ``<length> <key>=<value>\\n`` each."""
    out: dict[str, str] = {}
    pos = 0
    try:
        while pos < len(data):
            space = data.index(b" ", pos)
            length = int(data[pos:space])
            key, _, value = data[space + 1: pos + length - 1].partition(b"=")
            out[key.decode("utf-8")] = value.decode("utf-8", "surrogateescape")
            if length <= 0:
                raise ValueError("a record of no length")
            pos += length
    except (ValueError, UnicodeDecodeError) as e:
        raise PackError(f"{where}: damaged PAX records ({e})") from None
    return out
