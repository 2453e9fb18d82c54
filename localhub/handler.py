"""The request handler of the local Hub: the Hub's API and ``resolve``, worded and shaped as huggingface.co does.

Realistic mode (the default) sends an LFS file's ``resolve`` to a signed URL on the CDN (another origin) with a
302, and a small file's to ``/api/resolve-cache/…`` with a relative 307, which serves it gzip-encoded. Plain mode
serves every body from ``resolve`` itself.
"""

from __future__ import annotations

import hashlib
import json
import time
from http import HTTPStatus
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .faults import Fault
from .repos import HubFile, HubRepo
from .serving import BaseHandler, HubHTTPServer

PAGE_SIZE = 1000
API_QUOTA, API_WINDOW = 500, 300  # the Hub's anonymous API limit: 500 calls per 5 minutes

__all__ = ["PAGE_SIZE", "Handler", "HubError", "HubHTTPServer"]


class HubError(Exception):
    """An error answered the way the Hub words it: status, ``X-Error-Code`` and message."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Handler(BaseHandler):
    """One request: the API (repo info, tree, paths-info), ``resolve``, or the resolve cache."""

    _stall: Fault | None = None  # an API ``stall`` fault taken by this request

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        prefix = self.hub.prefix
        try:
            if prefix and not (url.path == prefix or url.path.startswith(prefix + "/")):
                raise HubError(404, None, "Not found")
            path = url.path[len(prefix):]
            parts = [unquote(p) for p in path.split("/")[1:]]
            query = {k: ",".join(v) if k == "expand" else v[-1] for k, v in parse_qs(url.query).items()}
            self._check_token()
            if self.headers.get("Authorization"):
                self.stats.count("auth")
            if parts[:2] == ["api", "resolve-cache"] and method in ("GET", "HEAD"):
                self._resolve_cache(method, parts[2:])
            elif parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in ("models", "datasets"):
                self._api(method, parts[1][:-1], parts[2:], query, path)
            elif "resolve" in parts and method in ("GET", "HEAD"):
                self._resolve(method, parts)
            else:
                raise HubError(404, None, "Not found")
        except HubError as e:
            self.send_json(e.status, {"error": e.message}, {"X-Error-Code": e.code, "X-Error-Message": e.message},
                           head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- who asks ---------------------------------------------------------------------------------
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
            if self._token() is None:  # the Hub will not say whether a repo exists to someone it does not know
                raise HubError(401, "RepoNotFound", "Invalid username or password.")
            raise HubError(404, "RepoNotFound", "Repository not found")
        at = self.hub.at(repo_type, repo_id, revision)
        if at is None:
            raise HubError(404, "RevisionNotFound", "Invalid rev id: " + str(revision))
        return at

    def _gate(self, repo: HubRepo) -> None:
        """Refuse a gated repo's files as the Hub words it: anonymous, no access, or a request pending."""
        token = self._token()
        access = repo.access_of(token, self.hub.tokens)
        if access == "granted":
            return
        what = f"{repo.repo_type} {repo.repo_id}"
        if token is None:
            raise HubError(401, "GatedRepo", f"Access to {what} is restricted. You must have access to it and be "
                                             "authenticated to access it. Please log in.")
        if access == "pending":
            raise HubError(403, "GatedRepo", f"Your request to access {what} is awaiting a review from the repo "
                                             "authors.")
        page = f"{self.hub.url}/{'datasets/' if repo.repo_type == 'dataset' else ''}{repo.repo_id}"
        raise HubError(403, "GatedRepo", f"Access to {what} is restricted and you are not in the authorized list. "
                                         f"Visit {page} to ask for access.")

    # --- API ----------------------------------------------------------------------------------
    def _api(self, method: str, repo_type: str, rest: list[str], query: dict[str, str], path: str) -> None:
        self.stats.count("api")
        fault = self.hub.take_fault(path, "api")
        if fault is not None and fault.kind == "status":
            if fault.status == 429:
                self.stats.count("api-429")
            self.send_status_fault(fault)
            return
        if fault is not None and fault.kind == "bomb":
            self._send_bomb(fault.after_bytes or 1 << 30)
            return
        self._stall = fault if fault is not None and fault.kind == "stall" else None
        if fault is not None and fault.kind == "slow":  # a Hub that answers each API call after ``delay`` s
            time.sleep(fault.delay)
        repo_id = "/".join(rest[:2])
        tail = rest[2:]
        if not tail and method == "GET":
            self._info(self._repo(repo_type, repo_id, None), query)
        elif tail[:1] == ["revision"] and len(tail) == 2 and method == "GET":
            self._info(self._repo(repo_type, repo_id, tail[1]), query)
        elif tail[:1] == ["tree"] and len(tail) >= 2 and method == "GET" and self.hub.tree_api:
            self.stats.count("tree")
            repo = self._repo(repo_type, repo_id, tail[1])
            if repo.listing_refused:
                self._gate(repo)
            self._tree(repo, "/".join(tail[2:]), query, path)
        elif tail[:1] == ["paths-info"] and len(tail) == 2 and method == "POST":
            self._paths_info(self._repo(repo_type, repo_id, tail[1]))
        else:
            raise HubError(404, None, "Not found")

    def _send_bomb(self, inflated: int) -> None:
        """A JSON list of ``inflated`` bytes, gzip-encoded: blanks compress a thousandfold."""
        import zlib

        block = b" " * (1 << 20)
        gz = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = [gz.compress(b"[")] + [gz.compress(block) for _ in range(inflated >> 20)] + [gz.compress(b"]"),
                                                                                          gz.flush()]
        data = b"".join(body)
        self.send_bytes(200, data, "application/json", {"Content-Encoding": "gzip"})

    def _api_json(self, payload: object, headers: dict[str, str | None] | None = None) -> None:
        """An API answer with the Hub's rate-limit headers; a ``stall`` fault cuts it in half and waits."""
        remaining = self.hub.api_remaining()
        out = {"RateLimit": f'"api";r={remaining};t={API_WINDOW}',
               "RateLimit-Policy": f'"fixed window";"api";q={API_QUOTA};w={API_WINDOW}', **(headers or {})}
        stall = self._stall
        if stall is None:
            self.send_json(200, payload, out)
            return
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        time.sleep(stall.delay)
        self.close_connection = True

    def _info(self, repo: HubRepo, query: dict[str, str]) -> None:
        self.stats.count("info")
        blobs = query.get("blobs") == "true"
        siblings = []
        for f in sorted(repo.files, key=lambda f: f.path) if "siblings" in query.get("expand", "siblings") else ():
            sib: dict[str, object] = {"rfilename": f.path}
            if blobs:
                sib.update(size=f.size, blobId=f.blob_id)
                if f.is_lfs:
                    sib["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
            siblings.append(sib)
        info: dict[str, object] = {
            "_id": repo.commit[:24], "id": repo.repo_id, "sha": repo.commit, "private": False,
            "gated": "manual" if repo.gated else False, "disabled": False, "lastModified": "2025-01-01T00:00:00.000Z",
            "tags": [], "siblings": siblings,
        }
        if "expand" in query:  # as the Hub: the id and only the properties asked for
            wanted = set(query["expand"].split(",")) | {"_id", "id"}
            info = {k: v for k, v in info.items() if k in wanted}
        self._api_json(info)

    def _entry(self, f: HubFile) -> dict[str, object]:
        entry: dict[str, object] = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
        if f.is_lfs:
            entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
        return entry

    def _tree(self, repo: HubRepo, prefix: str, query: dict[str, str], path: str) -> None:
        recursive = query.get("recursive", "").lower() in ("true", "1")
        base = prefix.rstrip("/") + "/" if prefix else ""
        key = (base, recursive, len(repo.files))
        ordered = repo.trees.get(key)
        if ordered is None:  # built once per listing, not once per page: 300 pages of a 300,000-file repo
            ordered = repo.trees[key] = self._tree_entries(repo, base, recursive)
        if prefix and not ordered:
            raise HubError(404, "EntryNotFound", f"{prefix} does not exist on this revision")
        cursor = int(query.get("cursor", "0") or 0)
        page = ordered[cursor:cursor + PAGE_SIZE]
        headers: dict[str, str | None] = {}
        if cursor + PAGE_SIZE < len(ordered):
            # hf-mirror writes the upstream host here (``link_host``); the Hub writes its own
            base_url = self.hub.link_host or self.hub.url
            nxt = f"{base_url}{quote(path)}?recursive={recursive!s}&expand=False&cursor={cursor + PAGE_SIZE}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._api_json(page, headers)

    def _tree_entries(self, repo: HubRepo, base: str, recursive: bool) -> list[dict[str, object]]:
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
        return [entries[k] for k in sorted(entries)]

    def _paths_info(self, repo: HubRepo) -> None:
        self.stats.count("paths-info")
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        ctype = self.headers.get("Content-Type", "")
        paths = json.loads(raw).get("paths", []) if "json" in ctype else parse_qs(raw).get("paths", [])
        self._api_json([self._entry(f) for p in paths if (f := repo.get(p)) is not None])

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
        self._gate(repo)
        path = "/".join(parts[i + 2:])
        f = repo.get(path)
        if f is None:
            raise HubError(404, "EntryNotFound", "Entry not found")
        self.stats.count("HEAD" if method == "HEAD" else "GET")
        fault = self.hub.take_fault(path, "resolve") if method == "GET" else None
        if fault is not None and fault.kind == "status":
            self.send_status_fault(fault, "resolvers")
            return
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{f.etag}"'}
        if f.is_lfs:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size),
                            "X-Xet-Hash": hashlib.sha256(b"xet" + f.sha256.encode()).hexdigest()})
        if self.hub.realistic:
            self._redirect(method, repo, f, path, headers)
            return
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(path.split('/')[-1])}"
        fault = self.hub.take_fault(path, "body") if method == "GET" else None
        self.send_file(method, f, path, fault, headers)

    def _redirect(self, method: str, repo: HubRepo, f: HubFile, path: str, headers: dict[str, str]) -> None:
        """LFS: 302 to a signed CDN URL (another origin). Other files: 307 to the resolve cache (relative)."""
        if f.is_lfs:
            status, location = 302, self.hub.signed_url(repo, f, path)
        else:
            kind = "models" if repo.repo_type == "model" else "datasets"
            status = 307
            location = f"{self.hub.prefix}/api/resolve-cache/{kind}/{quote(repo.repo_id)}/{repo.commit}/{quote(path)}"
        body = f"{HTTPStatus(status).phrase}. Redirecting to {location}".encode()
        self.send_bytes(status, body, "text/plain; charset=utf-8", {"Location": location, **headers},
                        head=method == "HEAD")

    def _resolve_cache(self, method: str, parts: list[str]) -> None:
        """The body of a small file: gzip-encoded (chunked, weak ETag, Range ignored) when the client takes gzip."""
        if len(parts) < 5 or parts[0] not in ("models", "datasets"):
            raise HubError(404, None, "Not found")
        repo = self._repo(parts[0][:-1], "/".join(parts[1:3]), parts[3])
        self._gate(repo)
        path = "/".join(parts[4:])
        f = repo.get(path)
        if f is None:
            raise HubError(404, "EntryNotFound", "Entry not found")
        self.stats.count("resolve-cache")
        gzip = method == "GET" and f.size > 0 and "gzip" in self.headers.get("Accept-Encoding", "")
        fault = self.hub.take_fault(path, "body") if method == "GET" else None
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'W/"{f.blob_id}"',
                   "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.split('/')[-1])}"}
        self.send_file(method, f, path, fault, headers, gzip=gzip)

