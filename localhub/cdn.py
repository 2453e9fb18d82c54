"""The local Hub's CDN: a second origin serving LFS bodies at signed URLs that expire, as huggingface.co's
``resolve`` redirects to. It honours Range, answers an expired or forged URL with the S3-style 403, and counts
every request that reached it with an ``Authorization`` header (a token must never leave the endpoint)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, urlsplit

from .repos import HubFile, HubRepo
from .serving import BaseHandler

URL_LIFETIME = 3600  # seconds a signed URL lasts, as on the Hub


def signature(secret: bytes, repo_key: str, path: str, expires: int) -> str:
    return hmac.new(secret, f"{repo_key}\0{path}\0{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def signed_path(secret: bytes, repo: HubRepo, f: HubFile, path: str, lifetime: int) -> str:
    """``/repos/ab/cd/<sha256>?…&Expires=…&Signature=…`` for ``f``."""
    expires = int(time.time()) + lifetime
    key = f"{repo.repo_type}/{repo.repo_id}"
    sha = f.sha256
    name = quote(path.split("/")[-1])
    return (f"/repos/{sha[:2]}/{sha[2:4]}/{sha}?response-content-disposition=inline%3B+filename%2A%3DUTF-8%27%27"
            f"{name}&repo={quote(key, safe='')}&path={quote(path, safe='')}&Expires={expires}"
            f"&Signature={signature(secret, key, path, expires)}&Key-Pair-Id=K3RPWS32NSSJCE")


def _denied(message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{message}</Message></Error>").encode()


class CdnHandler(BaseHandler):
    """GET/HEAD of a signed URL."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        self.stats.count("cdn")
        if self.headers.get("Authorization"):
            self.stats.count("cdn-auth")
        try:
            self._body(method)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _body(self, method: str) -> None:
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        key, path = q.get("repo", ""), q.get("path", "")
        expires = int(q.get("Expires", "0") or 0)
        xml = "application/xml"
        if not hmac.compare_digest(q.get("Signature", ""), signature(self.hub.secret, key, path, expires)):
            self.send_bytes(403, _denied("Invalid signature"), xml, head=method == "HEAD")
            return
        repo_type, _, repo_id = key.partition("/")
        f = self.hub.lfs_file(repo_type, repo_id, path, url.path.rpartition("/")[2])
        if f is None:
            self.send_bytes(404, _denied("Not Found").replace(b"AccessDenied", b"NoSuchKey"), xml)
            return
        fault = self.hub.take_fault(path, "body") if method == "GET" else None
        if expires < time.time() or (fault is not None and fault.kind == "expire"):
            self.send_bytes(403, _denied("Request has expired"), xml, head=method == "HEAD")
            return
        self.stats.count("cdn-body")
        headers = {"ETag": f'"{f.sha256[:32]}"', "Cache-Control": "public, max-age=604800"}
        self.send_file(method, f, path, fault, headers)
