"""Asking the publishers' own hosts what the Hub would list: a Zenodo record's files (key, size, md5, link) and
an object's size and md5 from Google Cloud Storage's headers. Through huggingface_hub's HTTP client, as every
request of this tool, with retries on the same faults; never with the Hub's token (it goes to the Hub only)."""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

from ..safety import printable, unsafe_reason
from ..settings import Settings
from ..sources import rewritten
from .backoff import retrying
from .listing import capped_get

MAX_ANSWER = 16 << 20  # a record of thousands of files is a few MB
HEADERS = {"user-agent": "musicgen-tui"}  # no Authorization: a publisher's host never sees the Hub's token


class PublisherError(Exception):
    """A publisher's answer this tool cannot use: one line naming the host's path and what is wrong."""


@dataclass(frozen=True)
class RecordFile:
    """One file of a Zenodo record, as its API lists it."""

    key: str
    size: int
    md5: str
    url: str


@dataclass(frozen=True)
class Head:
    """What a HEAD says of a file: its size and, where the host serves one (GCS), its md5."""

    size: int | None
    md5: str | None


class Publishers:
    def __init__(self, settings: Settings, cancel: threading.Event | None = None) -> None:
        self.settings, self.cancel = settings, cancel

    def _retrying(self, call: Any) -> Any:
        return retrying(call, tries=self.settings.retries, endpoint=None, cancel=self.cancel)

    def url(self, url: str) -> str:
        """``url`` as this run reaches it (``MUSICGEN_SOURCES_ENDPOINT``)."""
        return rewritten(url, self.settings.sources_endpoint)

    def host(self, url: str) -> str:
        return urlsplit(self.url(url)).netloc

    def zenodo(self, record: int) -> list[RecordFile]:
        """The files of a Zenodo record, each checked: a safe name, a size, an md5, an http(s) link."""
        url = self.url(f"https://zenodo.org/api/records/{record}")
        data = self._retrying(lambda: self._json(url))
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, list):
            raise PublisherError(f"Zenodo record {record}: the answer lists no files")
        return [self._record_file(record, f) for f in files]

    def _record_file(self, record: int, f: Any) -> RecordFile:
        where = f"Zenodo record {record}"
        if not isinstance(f, dict) or not isinstance(f.get("key"), str):
            raise PublisherError(f"{where}: a file entry without a key")
        key = f["key"]
        reason = unsafe_reason(key) or ("/" in key and "a folder in a file's key") or None
        if reason:
            raise PublisherError(f"{where}: refusing file {printable(key)!r}: {reason}")
        size, checksum = f.get("size"), f.get("checksum")
        link = (f.get("links") or {}).get("self") if isinstance(f.get("links"), dict) else None
        algorithm, _, md5 = checksum.partition(":") if isinstance(checksum, str) else ("", "", "")
        if type(size) is not int or size < 0 or algorithm != "md5" or len(md5) != 32 or \
                any(c not in "0123456789abcdef" for c in md5.lower()):
            raise PublisherError(f"{where}: file {printable(key)!r} has no size or no md5 checksum")
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise PublisherError(f"{where}: file {printable(key)!r} has no download link")
        return RecordFile(key, size, md5.lower(), self.url(link))

    def head(self, url: str) -> Head:
        """The size and the served md5 (GCS's ``x-goog-hash``: base64, one header line joined by commas or one
        line each) of ``url``, after its redirects."""
        return self._retrying(lambda: self._head(self.url(url)))  # type: ignore[no-any-return]

    def _head(self, url: str) -> Head:
        with http_stream_backoff("HEAD", url, headers=HEADERS, timeout=self.settings.read_timeout, max_retries=0,
                                 follow_redirects=True) as r:
            hf_raise_for_status(r)
            headers = r.headers
        size_text = headers.get("x-goog-stored-content-length") or headers.get("content-length")
        size = int(size_text) if size_text and size_text.isdigit() else None
        return Head(size, goog_md5(headers.get_list("x-goog-hash")))

    def _json(self, url: str) -> Any:
        read = capped_get(url, headers=HEADERS, timeout=self.settings.read_timeout, limit=MAX_ANSWER,
                          follow_redirects=True)
        try:
            return read.json()
        except ValueError:
            raise PublisherError(f"{url}: the answer is not JSON") from None


def goog_md5(lines: list[str]) -> str | None:
    """The md5 of ``x-goog-hash`` (``crc32c=…,md5=…`` on one line, or one line each), as hex; None without one."""
    for line in lines:
        for item in line.split(","):
            name, _, value = item.strip().partition("=")
            if name.lower() == "md5":
                try:
                    raw = base64.b64decode(value.strip(), validate=True)
                except (binascii.Error, ValueError):
                    return None
                return raw.hex() if len(raw) == 16 else None
    return None
