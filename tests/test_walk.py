"""The inventory's walker: the same files and sizes whether one process walks or two share the stat calls."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import core.local.walk as walk_mod
from core.local.walk import FileTable, walk

HOSTILE = ["new\nline.wav", "tab\tand space.wav", os.fsdecode(b"latin1-\xe9.wav"), "-dash.wav", "ünï.wav"]


def build_tree(top: Path) -> dict[str, int]:
    """A tree of every shape the walker splits: a flat folder over ``FORK_AFTER``, nested folders, small
    folders of one file, hostile names, and the things it must leave out."""
    expected: dict[str, int] = {}

    def put(rel: str, size: int) -> None:
        p = top / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x" * size)
        expected[rel] = size

    for i in range(1_500):
        put(f"flat/{i:05d}.wav", i % 53)
    for d in range(12):
        for i in range(70):
            put(f"nested/{d:02d}/deeper/{i}.flac", (d * 70 + i) % 211)
        put(f"nested/{d:02d}/one.txt", d)
    for i, name in enumerate(HOSTILE):
        put(f"hostile/{name}", 1_000 + i)
    put("top.bin", 4_096)
    put("sub/.cache/kept.bin", 7)  # only the top-level .cache is the tool's own
    (top / ".cache" / "huggingface").mkdir(parents=True)
    (top / ".cache" / "huggingface" / "skipped.metadata").write_bytes(b"x" * 99)
    os.symlink(top / "top.bin", top / "link-to-file")
    os.symlink(top / "flat", top / "link-to-folder")
    os.mkfifo(top / "a-fifo")
    (top / "empty-folder").mkdir()
    return expected


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """Built once: every test here only reads it."""
    top = tmp_path_factory.mktemp("walk") / "repo"
    return top, build_tree(top)


def as_dict(table: FileTable) -> dict[str, int]:
    pairs = list(table)
    assert len(pairs) == len(set(p for p, _ in pairs)), "a file was counted twice"
    return dict(pairs)


def test_serial_walk_finds_regular_files_only(tree: tuple[Path, dict[str, int]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    top, expected = tree
    monkeypatch.setattr(walk_mod, "may_fork", lambda: False)
    table = walk(top)
    assert as_dict(table) == expected
    assert len(table) == len(expected) and table.total == sum(expected.values())


@pytest.mark.parametrize("split_by_subtree", [1, 10**9], ids=["by-folder", "by-file"])
def test_forked_walk_matches_the_serial_one(tree: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch,
                                            split_by_subtree: int) -> None:
    top, expected = tree
    monkeypatch.setattr(walk_mod, "SPLIT_BY_SUBTREE", split_by_subtree)
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(walk_mod, "may_fork", lambda: True)
    monkeypatch.setattr(walk_mod.os, "fork", counting_fork)
    table = walk(top)
    assert len(forks) == 1, "the walk did not share its stat calls"
    assert as_dict(table) == expected  # hostile names survive the pipe
    assert table.sorted() == sorted(expected.items())


def test_a_failed_child_costs_time_not_files(tree: tuple[Path, dict[str, int]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    top, expected = tree
    real_half = walk_mod._half

    def dying_child(folder: str, prefix: str, names: list[str], pending: list[walk_mod.Pending],
                    part: int, visit: walk_mod.Visit | None) -> walk_mod._Found:
        if part == 1:
            os._exit(3)  # the child dies before sending anything
        return real_half(folder, prefix, names, pending, part, visit)

    monkeypatch.setattr(walk_mod, "may_fork", lambda: True)
    monkeypatch.setattr(walk_mod, "_half", dying_child)
    assert as_dict(walk(top)) == expected


def test_small_trees_never_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(walk_mod.FORK_AFTER - 1):
        (tmp_path / f"{i}.txt").write_bytes(b"")
    monkeypatch.setattr(walk_mod, "may_fork", lambda: True)
    monkeypatch.setattr(walk_mod.os, "fork", lambda: pytest.fail("forked for a small tree"))
    assert len(walk(tmp_path)) == walk_mod.FORK_AFTER - 1


def test_no_fork_while_threads_run() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert walk_mod.may_fork() is False
    finally:
        stop.set()
        t.join()


def test_missing_folder_is_empty(tmp_path: Path) -> None:
    table = walk(tmp_path / "nope")
    assert len(table) == 0 and table.total == 0 and table.largest(10) == []


def test_file_table_lookups() -> None:
    table = FileTable.from_pairs([("b.bin", 5), ("a/x.bin", 9), ("a/y.bin", 9), ("a/b/z.bin", 1), ("c", 9)])
    assert table.largest(2) == [("a/x.bin", 9), ("a/y.bin", 9)]  # ties by path
    assert table.largest(10)[-1] == ("a/b/z.bin", 1)
    assert table.has_all([("a/b/", ["z.bin"], [1]), ("", ["c"], [9])])
    assert not table.has_all([("a/", ["b"], [0])]) and not table.has_all([("z/", ["x.bin"], [1])])
    assert not table.has_all([("", ["c"], [8])])  # there, but not at that size
    assert table.sorted() == [("a/b/z.bin", 1), ("a/x.bin", 9), ("a/y.bin", 9), ("b.bin", 5), ("c", 9)]
    assert len(table) == 5 and table.total == 33


def test_forked_walk_with_sigchld_ignored(tree: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A host process that ignores SIGCHLD has its children reaped for it: waitpid fails, the data still counts."""
    import signal

    top, expected = tree
    monkeypatch.setattr(walk_mod, "may_fork", lambda: True)
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert as_dict(walk(top)) == expected
    finally:
        signal.signal(signal.SIGCHLD, old)
