"""The CLI's one output sink and its error policy: --json prints one JSON document and nothing else on stdout;
an unexpected error is one line (MUSICGEN_DEBUG=1 adds the traceback); neither ever shows the token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TOKEN

from localhub import LocalHub


def test_every_json_output_is_one_document(cli, root: Path, hub: LocalHub) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    for args in (("download", "--model", "acme/tiny-model"), ("download", "--model", "acme/tiny-model", "--run"),
                 ("inventory",), ("checksums", "--min-size", "0"), ("verify",), ("catalog",)):
        r = cli(*args, "--json")
        assert r.code == 0, args
        json.loads(r.out)  # the whole of stdout: no table, no "wrote …" line around it
    [written] = cli("checksums", "--min-size", "0", "--json").json()
    assert written["path"] == str(root / "models" / "checksums.sha256")
    assert written["entries"] == 7  # every file over 0 bytes: all but empty.txt
    run = cli("download", "--model", "acme/tiny-model", "--run", "--json").json()
    assert run["repos"][0]["status"] == "complete" and run["result"]["ok"] is True  # plan and result, merged


def test_a_reported_failure_is_in_the_document_and_on_stderr(cli, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("MUSICGEN_MIN_FREE", "1000P")
    r = cli("download", "--model", "acme/tiny-model", "--run", "--json")
    assert r.code == 2
    assert r.json()["error"].startswith("not enough free space")
    assert r.err.startswith("musicgen-tui: not enough free space") and r.err.count("\n") == 1


@pytest.fixture
def broken_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug: the inventory raises something no command expects, with the token in its text."""
    from core.local import inventory

    def scan(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"boom\nwith {TOKEN} on its second line and {TOKEN} here")

    monkeypatch.setattr(inventory, "scan", scan)


def test_an_unexpected_error_is_one_line(cli, root: Path, broken_inventory: None, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    r = cli("inventory")
    assert r.code == 2  # could not run, not "problems found"
    assert r.err == "musicgen-tui: error: RuntimeError: boom (run with MUSICGEN_DEBUG=1 for the details)\n"


def test_musicgen_debug_shows_the_traceback_without_the_token(cli, root: Path, broken_inventory: None,
                                                              monkeypatch) -> None:
    (root / ".env").write_text(f"HF_TOKEN={TOKEN}\nMUSICGEN_DEBUG=1\n")
    r = cli("inventory")
    assert r.code == 2
    assert "Traceback (most recent call last)" in r.err and "raise RuntimeError" in r.err
    assert r.err.rstrip().endswith("musicgen-tui: error: RuntimeError: boom")
    assert TOKEN not in r.err and "***" in r.err


def test_output_into_a_closed_pipe_ends_quietly_with_the_pipes_status(root: Path) -> None:
    """``musicgen-tui … | head`` when head has gone: no "Broken pipe" line, no traceback, status 141 (as a
    process the pipe's signal ends, like ``yes | head``)."""
    import subprocess

    from conftest import bin_path, subprocess_env

    for args in (("catalog",), ("catalog", "--json"), ("inventory", "--json")):
        proc = subprocess.Popen([bin_path("musicgen-tui"), *args, "--root", str(root)], env=subprocess_env(root),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first line
        err = proc.stderr.read()
        assert (proc.wait(timeout=60), err) == (141, b""), args
