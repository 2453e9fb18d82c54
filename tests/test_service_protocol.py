"""Issue 27, the protocol: one strict decoder, limits on lines and clients, a version handshake; a misbehaving
client gets its error and never disturbs a running download."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import BIG_SIZE, eventually, repo_dir, service_status

from core.service import client as service
from core.service.protocol import socket_path
from core.service.requests import (
    MAX_LINE,
    Cancel,
    Export,
    ProtocolError,
    Prune,
    Remove,
    Submit,
    decode_request,
    encode_request,
)
from localhub import Fault, LocalHub


def _raw(root: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(socket_path(root)))
    return s


def _ask(s: socket.socket, line: bytes) -> dict[str, Any]:
    s.sendall(line)
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return json.loads(got)


@pytest.mark.parametrize(("line", "error"), [
    (b'{"op": "cancel", "job": true}', "job must be a whole number"),
    (b'{"op": "submit", "repos": [["model", "a/b"]], "max_workers": "2"}', "max_workers must be a whole number"),
    (b'{"op": "submit", "repos": [["model", "a/b"]], "colour": 1}', "submit: unknown field 'colour'"),
    (b'{"op": "submit", "repos": []}', "submit names no repos"),
    (b'{"op": "submit", "repos": [["model", "../x"]]}', "repos[]:"),
    (b'{"op": "cancel", "path": "a.bin"}', "path needs repo"),
    (b'{"op": "launch"}', "unknown op 'launch'"),
    (b"[1, 2]", "not a JSON object"),
    (b"\x00\xff{{{", "not a JSON object"),
    (b"[" * 200_000, "nested too deep"),
])
def test_the_decoder_refuses_what_is_not_a_request_with_one_line(line: bytes, error: str) -> None:
    with pytest.raises(ProtocolError) as e:
        decode_request(line)
    assert error in str(e.value) and "\n" not in str(e.value)


def test_requests_round_trip_through_the_one_encoder_and_decoder() -> None:
    from core.repos import RepoRef

    for request in (Submit((RepoRef("model", "a/b"),), profiles=((RepoRef("model", "a/b"), "transformers"),),
                           include=("*.json",), max_workers=3, cache="read", force=True, connections=4),
                    Cancel(job=7), Cancel(repo=RepoRef("dataset", "x/y"), path="a.wav"), Cancel(),
                    Remove((RepoRef("model", "a/b"), RepoRef("dataset", "x/y")), dry_run=False), Prune(dry_run=True),
                    Export(inventories=False, checksums=False, views=True)):
        assert decode_request(json.dumps(encode_request(request)).encode()) == request
    with pytest.raises(ProtocolError, match="remove needs repos"):
        decode_request(b'{"op": "remove", "repos": []}')


def test_a_fuzzing_client_never_disturbs_the_service_or_its_download(svc_root: Path, hub: LocalHub,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGEN_SERVICE_IDLE", "10")
    hub.inject(Fault("slow", "big.bin", times=1, delay=0.002))  # the download runs while the fuzz goes on
    with service.ensure(svc_root) as client:
        client.raw({"op": "submit", "repos": [["model", "acme/big-file"]]})
    s = _raw(svc_root)
    for line, error in ((b"garbage\n", "not a JSON object"), (b'{"op": "cancel", "job": true}\n', "whole number"),
                        (b"[" * 200_000 + b"\n", "nested too deep")):
        answer = _ask(s, line)
        assert answer["ok"] is False and error in answer["error"]
    assert _ask(s, b'{"op": "status"}\n')["service"] == "running"  # the same connection goes on
    s.close()
    huge = _raw(svc_root)  # 20 MB without a newline: an error, then the connection is closed
    replies: list[bytes] = []
    reader = threading.Thread(target=lambda: replies.append(huge.recv(65536)))
    reader.start()
    with contextlib.suppress(OSError):  # closed by the service once the cap was passed
        huge.sendall(b"x" * (20 << 20))
    reader.join(30)
    assert replies and b"request line over" in replies[0]
    huge.close()
    idle = [_raw(svc_root) for _ in range(70)]  # more clients than the cap, none saying a word
    refused = 0
    for s in idle[60:]:
        s.settimeout(1)
        try:
            data = s.recv(65536)
            refused += b"clients: try again" in data
        except TimeoutError:
            pass
    assert refused >= 5
    for s in idle:
        s.close()
    eventually(lambda: not service_status(svc_root)["busy"], timeout=120)
    status = service_status(svc_root)
    assert [f["state"] for f in status["files"] if f["path"] == "big.bin"] == ["done"]
    assert (repo_dir(svc_root, "model", "acme/big-file") / "big.bin").stat().st_size == BIG_SIZE
    assert MAX_LINE < 20 << 20


def test_a_service_of_another_protocol_is_named_with_the_fix(tmp_path: Path) -> None:
    """An older service (it knows no ``hello``) on the root's socket: a client says so in one line, with the
    command that ends it."""
    root = tmp_path / "ws"
    root.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = socket_path(root)
    server.bind(str(path))
    path.chmod(0o600)
    server.listen(1)

    def old_service() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b'{"ok": false, "error": "unknown op \'hello\'"}\n')

    t = threading.Thread(target=old_service, daemon=True)
    t.start()
    with pytest.raises(service.ServiceError) as e:
        service.connect(root)
    assert "speaks another protocol" in str(e.value) and f"musicgen-tui --root {root} stop" in str(e.value)
    t.join(5)
    server.close()
