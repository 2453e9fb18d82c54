"""The request handler of the local Hub: the Hub's API and file bodies, as the real client expects them."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .faults import Fault, HubStats
from .repos import HubFile, HubRepo

PAGE_SIZE = 1000
_STREAM_CHUNK = 64 * 1024
_SLOW_CHUNK = 4 * 1024


class HubState(Protocol):
    """What a request reads of the Hub it is served by (``LocalHub``)."""

    repos: dict[tuple[str, str], HubRepo]
    tokens: set[str]
    tree_api: bool
    stats: HubStats

    def take_fault(self, path: str) -> Fault | None: ...


class HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    hub: HubState

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-body is normal here (cancel, kill, fault tests): say nothing."""


class HubError(Exception):
    """An error answered the way the Hub words it: status, ``X-Error-Code`` and message."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Handler(BaseHTTPRequestHandler):
    """One request: the API (repo info, tree, paths-info) or a file body (``resolve``)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: HubHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def hub(self) -> HubState:
        return self.server.hub

    # --- dispatch -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            self._check_token()
            if parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in ("models", "datasets"):
                self._api(method, parts[1][:-1], parts[2:], query)
            elif "resolve" in parts and method in ("GET", "HEAD"):
                self._resolve(method, parts)
            else:
                raise HubError(404, None, "Not found")
        except HubError as e:
            self._send_json(e.status, {"error": e.message}, {"X-Error-Code": e.code, "X-Error-Message": e.message},
                            head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def _check_token(self) -> None:
        token = self._token()
        if token is not None and self.hub.tokens and token not in self.hub.tokens:
            raise HubError(401, None, "Invalid credentials in Authorization header")

    def _repo(self, repo_type: str, repo_id: str, revision: str | None) -> HubRepo:
        repo = self.hub.repos.get((repo_type, repo_id.lower()))
        if repo is None:
            raise HubError(404, "RepoNotFound", "Repository not found")
        if revision not in (None, "main", repo.commit):
            raise HubError(404, "RevisionNotFound", "Invalid rev id: " + revision)
        return repo

    # --- API ----------------------------------------------------------------------------------
    def _api(self, method: str, repo_type: str, rest: list[str], query: dict[str, str]) -> None:
        repo_id = "/".join(rest[:2])
        tail = rest[2:]
        if not tail and method == "GET":
            self._info(self._repo(repo_type, repo_id, None), query)
        elif tail[:1] == ["revision"] and len(tail) == 2 and method == "GET":
            self._info(self._repo(repo_type, repo_id, tail[1]), query)
        elif tail[:1] == ["tree"] and len(tail) >= 2 and method == "GET" and self.hub.tree_api:
            self.hub.stats.count("tree")
            self._tree(self._repo(repo_type, repo_id, tail[1]), "/".join(tail[2:]), query)
        elif tail[:1] == ["paths-info"] and len(tail) == 2 and method == "POST":
            self._paths_info(self._repo(repo_type, repo_id, tail[1]))
        else:
            raise HubError(404, None, "Not found")

    def _info(self, repo: HubRepo, query: dict[str, str]) -> None:
        self.hub.stats.count("info")
        blobs = query.get("blobs") == "true"
        siblings = []
        for f in sorted(repo.files, key=lambda f: f.path):
            sib: dict[str, object] = {"rfilename": f.path}
            if blobs:
                sib.update(size=f.size, blobId=f.blob_id)
                if f.is_lfs:
                    sib["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
            siblings.append(sib)
        self._send_json(200, {
            "_id": repo.commit[:24], "id": repo.repo_id, "sha": repo.commit, "private": False,
            "gated": "manual" if repo.gated else False, "disabled": False, "lastModified": "2025-01-01T00:00:00.000Z",
            "tags": [], "siblings": siblings,
        })

    def _entry(self, f: HubFile) -> dict[str, object]:
        entry: dict[str, object] = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
        if f.is_lfs:
            entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
        return entry

    def _tree(self, repo: HubRepo, prefix: str, query: dict[str, str]) -> None:
        recursive = query.get("recursive", "").lower() in ("true", "1")
        base = prefix.rstrip("/") + "/" if prefix else ""
        entries: dict[str, dict[str, object]] = {}
        for f in repo.files:
            if not f.path.startswith(base):
                continue
            rest = f.path[len(base):].split("/")
            for depth in range(1, len(rest)):
                if not recursive and depth > 1:
                    break
                d = base + "/".join(rest[:depth])
                entries.setdefault(d, {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(),
                                       "size": 0, "path": d})
            if recursive or len(rest) == 1:
                entries[f.path] = self._entry(f)
        if prefix and not entries:
            raise HubError(404, "EntryNotFound", f"{prefix} does not exist on this revision")
        ordered = [entries[k] for k in sorted(entries)]
        cursor = int(query.get("cursor", "0") or 0)
        page = ordered[cursor:cursor + PAGE_SIZE]
        headers: dict[str, str | None] = {}
        if cursor + PAGE_SIZE < len(ordered):
            host, port = self.server.server_address[:2]
            path = urlsplit(self.path).path
            nxt = f"http://{host!s}:{port}{path}?recursive={recursive!s}&cursor={cursor + PAGE_SIZE}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._send_json(200, page, headers)

    def _paths_info(self, repo: HubRepo) -> None:
        self.hub.stats.count("paths-info")
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        ctype = self.headers.get("Content-Type", "")
        paths = json.loads(raw).get("paths", []) if "json" in ctype else parse_qs(raw).get("paths", [])
        out = [self._entry(f) for p in paths if (f := repo.get(p)) is not None]
        self._send_json(200, out)

    # --- resolve ------------------------------------------------------------------------------
    def _resolve(self, method: str, parts: list[str]) -> None:
        i = parts.index("resolve")
        repo_type = "model"
        head = parts[:i]
        if head[:1] == ["datasets"]:
            repo_type, head = "dataset", head[1:]
        if len(head) != 2 or len(parts) < i + 3:
            raise HubError(404, None, "Not found")
        repo = self._repo(repo_type, "/".join(head), parts[i + 1])
        if repo.gated and self._token() not in self.hub.tokens:
            raise HubError(401, "GatedRepo", "Access to this repo is restricted: you must be authenticated "
                                              "and have accepted its conditions.")
        path = "/".join(parts[i + 2:])
        f = repo.get(path)
        if f is None:
            raise HubError(404, "EntryNotFound", "Entry not found")
        self.hub.stats.count("HEAD" if method == "HEAD" else "GET")
        fault = self.hub.take_fault(path) if method == "GET" else None
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._send_json(fault.status, {"error": HTTPStatus(fault.status).phrase}, headers)
            return
        size = f.size
        start, end = 0, size
        rng = self.headers.get("Range")
        status = 200
        if fault is not None and fault.kind == "ignore-range":
            rng = None  # like a CDN that drops Range: the whole body, status 200
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
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("ETag", f'"{f.etag}"')
        if f.is_lfs:
            self.send_header("X-Linked-Etag", f'"{f.sha256}"')
            self.send_header("X-Linked-Size", str(size))
        self.send_header("Content-Disposition", f"inline; filename*=UTF-8''{quote(path.split('/')[-1])}")
        self.end_headers()
        if method == "HEAD":
            return
        self._stream(f, path, start, end, fault)

    def _stream(self, f: HubFile, path: str, start: int, end: int, fault: Fault | None) -> None:
        if fault is None and f.source is not None and end > start:
            with f.source.open("rb") as fh:  # zero-copy: the server is never the bottleneck of a benchmark
                sent = self.connection.sendfile(fh, start, end - start)
            self.hub.stats.served(path, sent)
            return
        pos = start
        sent = 0
        step = _SLOW_CHUNK if fault is not None and fault.kind == "slow" else _STREAM_CHUNK
        while pos < end:
            n = min(step, end - pos)
            if fault is not None and fault.kind in ("reset", "stall", "corrupt"):
                until = fault.after_bytes - sent
                if until <= 0:
                    if fault.kind == "reset":
                        self._reset()
                        return
                    if fault.kind == "stall":
                        time.sleep(fault.delay)
                        self.close_connection = True
                        return
                n = min(n, until) if until > 0 else n
            chunk = f.read(pos, pos + n)
            if fault is not None and fault.kind == "corrupt" and fault.after_bytes - sent <= 0 < len(chunk):
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                fault = None
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            self.wfile.write(chunk)
            self.hub.stats.served(path, len(chunk))
            pos += len(chunk)
            sent += len(chunk)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset, once the bytes already sent have had time to arrive."""
        self.wfile.flush()
        time.sleep(0.2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.connection.close()
        self.close_connection = True

    def _send_json(self, status: int, payload: object, headers: Mapping[str, str | None] | None = None,
                   head: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            if v is not None:
                self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)
