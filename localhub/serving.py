"""What every local server shares: quiet logs, JSON answers, and a file's bytes served with Range, gzip and
the faults injected into a body (a reset, a stall, a corrupted or slow body, a Range ignored)."""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from .faults import Fault, FaultSite, HubStats
from .repos import HubFile, HubRepo

_STREAM_CHUNK = 64 * 1024
_SLOW_CHUNK = 4 * 1024


class HubState(Protocol):
    """What a request reads of the Hub it is served by (``LocalHub``)."""

    repos: dict[tuple[str, str], HubRepo]
    tokens: set[str]
    tree_api: bool
    realistic: bool
    prefix: str
    link_host: str | None
    secret: bytes
    stats: HubStats
    conn_limit: float | None  # bytes a second one connection's body may take (a CDN's or mirror's cap)

    @property
    def url(self) -> str: ...

    def take_fault(self, path: str, at: FaultSite = "body") -> Fault | None: ...

    def api_remaining(self, *, count: bool = True) -> int: ...

    def signed_url(self, repo: HubRepo, f: HubFile, path: str) -> str: ...

    def at(self, repo_type: str, repo_id: str, revision: str | None) -> HubRepo | None: ...

    def lfs_file(self, repo_type: str, repo_id: str, path: str, sha256: str) -> HubFile | None: ...


class HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    hub: HubState

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-body is normal here (cancel, kill, fault tests): say nothing."""


class BaseHandler(BaseHTTPRequestHandler):
    """JSON answers and file bodies, shared by the Hub and its CDN."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: HubHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def hub(self) -> HubState:
        return self.server.hub

    @property
    def stats(self) -> HubStats:
        return self.server.hub.stats

    def send_json(self, status: int, payload: object, headers: Mapping[str, str | None] | None = None,
                  head: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.send_bytes(status, body, "application/json", headers, head)

    def send_bytes(self, status: int, body: bytes, content_type: str,
                   headers: Mapping[str, str | None] | None = None, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            if v is not None:
                self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_status_fault(self, fault: Fault, resource: str = "api") -> None:
        """The status a ``status`` fault asks for, with ``Retry-After`` or the Hub's ``RateLimit`` headers."""
        headers: dict[str, str | None] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.reset_in is not None:
            headers["RateLimit"] = f'"{resource}";r=0;t={fault.reset_in}'
            headers["RateLimit-Policy"] = f'"fixed window";"{resource}";q=500;w=300'
        message = "Too Many Requests" if fault.status == 429 else "Internal Error"
        self.send_json(fault.status, {"error": message}, headers)

    # --- file bodies --------------------------------------------------------------------------
    def send_file(self, method: str, f: HubFile, path: str, fault: Fault | None,
                  headers: Mapping[str, str] | Iterable[tuple[str, str]], *, gzip: bool = False) -> None:
        """200 or 206 with ``f``'s bytes (``Range`` honoured), or 200 gzip-encoded and chunked when ``gzip``
        (``Range`` ignored then, as the Hub's cache does)."""
        if fault is not None and fault.kind == "status":
            self.send_status_fault(fault, "resolvers")
            return
        size = f.size
        rng = None if gzip or (fault is not None and fault.kind == "ignore-range") else self.headers.get("Range")
        start, end, status = 0, size, 200
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else 0
            end = min(int(b) + 1, size) if b else size
            if start >= size and size > 0:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if gzip:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Vary", "Accept-Encoding")
        else:
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        for k, v in headers.items() if isinstance(headers, Mapping) else headers:  # pairs: a header sent twice
            self.send_header(k, v)
        self.end_headers()
        if method == "HEAD":
            return
        if gzip:
            self._stream_gzip(f, path, fault)
        else:
            self._stream(f, path, start, end, fault)

    def _chunks(self, f: HubFile, path: str, start: int, end: int, fault: Fault | None) -> Iterator[bytes | str]:
        """The body's chunks, with the fault applied; a reset or stall ends the generator early."""
        pos = start
        sent = 0
        step = _SLOW_CHUNK if fault is not None and fault.kind == "slow" else _STREAM_CHUNK
        while pos < end:
            n = min(step, end - pos)
            if fault is not None and fault.kind in ("reset", "stall", "corrupt"):
                until = fault.after_bytes - sent
                if until <= 0:
                    if fault.kind == "reset":
                        yield "reset"
                        return
                    if fault.kind == "stall":
                        yield "stall"
                        return
                n = min(n, until) if until > 0 else n
            chunk = f.read(pos, pos + n)
            if fault is not None and fault.kind == "corrupt" and fault.after_bytes - sent <= 0 < len(chunk):
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                fault = None
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            yield chunk
            pos += len(chunk)
            sent += len(chunk)

    def _stream(self, f: HubFile, path: str, start: int, end: int, fault: Fault | None) -> None:
        limit = self.hub.conn_limit
        if fault is None and f.source is not None and end > start and not limit:
            with f.source.open("rb") as fh:  # zero-copy: the server is never the bottleneck of a benchmark
                sent = self.connection.sendfile(fh, start, end - start)
            self.stats.served(path, sent)
            return
        began, sent = time.monotonic(), 0
        for chunk in self._chunks(f, path, start, end, fault):
            if isinstance(chunk, str):
                self._hang_up(chunk, fault)
                return
            self.wfile.write(chunk)
            self.stats.served(path, len(chunk))
            if limit:  # paced: this connection never runs ahead of the cap
                sent += len(chunk)
                ahead = sent / limit - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)

    def _stream_gzip(self, f: HubFile, path: str, fault: Fault | None) -> None:
        """The body gzip-compressed in HTTP/1.1 chunks; faults count the uncompressed bytes."""
        z = zlib.compressobj(6, zlib.DEFLATED, 31)
        for chunk in self._chunks(f, path, 0, f.size, fault):
            if isinstance(chunk, str):
                self._write_chunk(z.flush(zlib.Z_SYNC_FLUSH))
                self._hang_up(chunk, fault)
                return
            self._write_chunk(z.compress(chunk))
            self.stats.served(path, len(chunk))
        self._write_chunk(z.flush())
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _hang_up(self, how: str, fault: Fault | None) -> None:
        if how == "stall":
            time.sleep(fault.delay if fault is not None else 0)
            self.close_connection = True
        else:
            self.reset()

    def reset(self) -> None:
        """Drop the connection with a TCP reset, once the bytes already sent have had time to arrive."""
        self.wfile.flush()
        time.sleep(0.2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.connection.close()
        self.close_connection = True
