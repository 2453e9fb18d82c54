"""Look-alikes of the hosts the catalog's off-Hub data comes from, on one 127.0.0.1 origin
(``MUSICGEN_SOURCES_ENDPOINT`` points every off-Hub URL's scheme and host at it, keeping the path):

- **Zenodo**: ``/api/records/<id>`` answers the records API (each file's ``key``, ``size``, ``checksum:
  "md5:…"`` and ``links.self``); a file's ``…/content`` link redirects (302) to the body, as Zenodo's does.
- **Google Cloud Storage** (paths under ``/magentadata/``): ``x-goog-hash`` with the object's crc32c and md5
  (base64, one header line joined by a comma, or two lines: ``split_hash``) and ``x-goog-stored-content-length``.
- **A plain server without Range** (paths under ``/datasets/nsynth/``), as Magenta's download site may be.
- **Plain servers with Range** for the rest (Meta's file server, FMA's).

It counts requests and bytes like the local Hub, takes the same faults (a reset, a corrupted or slow body, a
status), and answers an unknown path with a 404 as S3 or nginx words it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import zlib
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .faults import Fault, FaultBook, FaultSite, HubStats
from .repos import HubFile
from .serving import BaseHandler, HubHTTPServer

NO_RANGE = ("/datasets/nsynth/",)
GCS = ("/magentadata/",)


class PublisherHosts(FaultBook):
    """Files by URL path, and Zenodo records (id -> files). Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, files: dict[str, HubFile] | None = None,
                 records: dict[int, list[HubFile]] | None = None, *, conn_limit: float | None = None) -> None:
        self.files = dict(files or {})
        self.records = {k: list(v) for k, v in (records or {}).items()}
        self.faults: list[Fault] = []
        self.stats = HubStats()
        self.conn_limit = conn_limit
        self.split_hash = False  # x-goog-hash as two header lines instead of one
        self.published: dict[str, str] = {}  # path -> an md5 served instead of the real one (a changed value)
        self._lock = threading.Lock()
        self._server = HubHTTPServer(("127.0.0.1", 0), HostsHandler)
        self._server.hub = self  # type: ignore[assignment]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def take_fault(self, path: str, at: FaultSite = "body") -> Fault | None:
        return self.take_injected(path, at)

    def record_file(self, record: int, key: str) -> HubFile | None:
        return next((f for f in self.records.get(record, []) if f.path == key), None)

    def start(self) -> PublisherHosts:
        self._thread = threading.Thread(target=self._server.serve_forever, name="publisher-hosts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PublisherHosts:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def md5_of(f: HubFile) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for start in range(0, f.size, 1 << 20):
        h.update(f.read(start, min(start + (1 << 20), f.size)))
    return h.hexdigest()


def crc32c_placeholder(f: HubFile) -> int:
    """A crc32 stands in for GCS's crc32c (the client reads the md5; the crc is only there to be skipped)."""
    crc = 0
    for start in range(0, f.size, 1 << 20):
        crc = zlib.crc32(f.read(start, min(start + (1 << 20), f.size)), crc)
    return crc


class HostsHandler(BaseHandler):
    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    @property
    def hosts(self) -> PublisherHosts:
        return self.server.hub  # type: ignore[return-value]

    def _serve(self, method: str) -> None:
        self.stats.count(method)
        if self.headers.get("Authorization"):
            self.stats.count("auth")  # a Hub token must never reach a publisher's host: must stay 0
        try:
            self._route(method, unquote(urlsplit(self.path).path))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str) -> None:
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "records"] and len(parts) == 3 and parts[2].isdigit():
            self._record(method, int(parts[2]))
            return
        if parts[:2] == ["api", "records"] and len(parts) == 6 and parts[3] == "files" and parts[5] == "content":
            f = self.hosts.record_file(int(parts[2]) if parts[2].isdigit() else -1, parts[4])
            if f is None:
                self._not_found(method)
                return
            self.send_response(302)  # Zenodo's content link goes on to the file's storage
            self.send_header("Location", f"/files/{parts[2]}/{quote(parts[4])}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts[0] == "files" and len(parts) == 3 and parts[1].isdigit():
            f = self.hosts.record_file(int(parts[1]), parts[2])
            if f is None:
                self._not_found(method)
                return
            self._body(method, f, path, {})
            return
        f = self.hosts.files.get(path)
        if f is None:
            self._not_found(method)
            return
        headers: dict[str, str] = {}
        if path.startswith(GCS):
            md5 = self.hosts.published.get(path) or md5_of(f)
            b64 = base64.b64encode(bytes.fromhex(md5)).decode()
            crc = base64.b64encode(crc32c_placeholder(f).to_bytes(4, "big")).decode()
            headers["x-goog-stored-content-length"] = str(f.size)
            headers["x-goog-hash"] = f"crc32c={crc},md5={b64}"
        self._body(method, f, path, headers, no_range=path.startswith(NO_RANGE))

    def _record(self, method: str, record: int) -> None:
        self.stats.count("api")
        fault = self.hosts.take_fault(f"/api/records/{record}", "api")
        if fault is not None and fault.kind == "status":
            self.send_status_fault(fault)
            return
        files = self.hosts.records.get(record)
        if files is None:
            self.send_json(404, {"status": 404, "message": "PID does not exist."}, head=method == "HEAD")
            return
        base = self.hosts.url
        entries: list[dict[str, Any]] = [
            {"key": f.path, "size": f.size, "checksum": f"md5:{self.hosts.published.get(f.path) or md5_of(f)}",
             "links": {"self": f"{base}/api/records/{record}/files/{quote(f.path)}/content"}} for f in files]
        self.send_json(200, {"id": record, "metadata": {"title": f"record {record}"}, "files": entries},
                       head=method == "HEAD")

    def _body(self, method: str, f: HubFile, path: str, headers: dict[str, str], *, no_range: bool = False) -> None:
        fault = self.hosts.take_fault(path, "body") if method == "GET" else None
        if no_range and fault is None:
            fault = Fault("ignore-range", times=0)
        pairs = list(headers.items())
        if self.hosts.split_hash and "x-goog-hash" in headers:  # GCS may send the two hashes as two header lines
            pairs = [(k, v) for k, v in pairs if k != "x-goog-hash"]
            pairs += [("x-goog-hash", h) for h in headers["x-goog-hash"].split(",")]
        self.send_file(method, f, path, fault, pairs)

    def _not_found(self, method: str) -> None:
        self.send_bytes(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html",
                        head=method == "HEAD")
