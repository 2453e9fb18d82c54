"""Complexity pinned by counting calls at a few thousand files, never by timing: a step that turns quadratic (or
reads a file per file) fails here at N = 2,000, long before a user's 300,000-file dataset finds it.
docs/PERFORMANCE.md ("Scale") has the times, measured by bench/scale.py."""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path

import pytest

from core.local import hashcache, hashing, record, walk
from core.local.verify import verify
from core.remote import Listing, RemoteFile
from core.repos import RepoRef
from core.states import CheckStatus

N = 2_000
REF = RepoRef("dataset", "acme/scale")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A downloaded-looking dataset of N small files in 4 folders, with its record (format 2)."""
    folder = REF.local_dir(tmp_path)
    files = []
    for i in range(N):
        rel = f"clips/{i % 4}/{i:05d}.wav"
        data = b"%d" % i * (1 + i % 50)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        files.append(RemoteFile(rel, len(data), "", hashlib.sha256(data).hexdigest()))
    record.write_record(folder, record.Record(Listing(REF, "1" * 40, files), selected=tuple(f.path for f in files)))
    return tmp_path


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls to ``os.stat``, files hashed, and marshal loads, from now on; one process (no fork), so every
    call is seen."""
    counts = {"stat": 0, "hashed": 0, "loads": 0}
    real_stat, real_hash, real_loads = os.stat, hashing.hash_file, marshal.loads

    def stat(*a: object, **k: object) -> os.stat_result:
        counts["stat"] += 1
        return real_stat(*a, **k)  # type: ignore[arg-type]

    def hash_file(path: str, algorithm: str = "sha256", size: int = -1, dir_fd: int | None = None) -> str:
        counts["hashed"] += 1
        return real_hash(path, algorithm, size, dir_fd)

    def loads(data: bytes) -> object:
        counts["loads"] += 1
        return real_loads(data)

    monkeypatch.setattr(walk, "may_fork", lambda: False)
    monkeypatch.setattr(hashing, "_may_fork", lambda: False)
    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(hashing, "hash_file", hash_file)
    monkeypatch.setattr(marshal, "loads", loads)
    return counts


def test_second_verify_stats_each_file_once_and_hashes_none(tree: Path, counted: dict[str, int]) -> None:
    first = verify(tree)
    assert first.counts["ok"] == N and first.ok
    assert counted["hashed"] == N  # the first verify hashes each file once
    for k in counted:
        counted[k] = 0
    second = verify(tree)
    assert second.counts == first.counts
    assert counted["hashed"] == 0
    assert N <= counted["stat"] <= N + 20  # one stat a file, a handful for folders and the record
    assert counted["loads"] == 2  # the planned sizes and the remembered hashes, each read once


def test_a_changed_file_is_hashed_alone_and_named(tree: Path, counted: dict[str, int]) -> None:
    verify(tree)
    target = REF.local_dir(tree) / "clips/2/00042.wav"
    target.write_bytes(b"damaged")
    counted["hashed"] = 0
    result = verify(tree)
    assert [(p.status, p.path) for p in result.problems] == [(CheckStatus.PARTIAL, "clips/2/00042.wav")] or \
        [(p.status, p.path) for p in result.problems] == [(CheckStatus.MISMATCH, "clips/2/00042.wav")]
    assert counted["hashed"] <= 1  # a size change is judged without hashing; nothing else is hashed
    assert result.counts["ok"] == N - 1


def test_checksums_hash_each_small_file_once_as_the_walk_meets_it(tree: Path, counted: dict[str, int],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """N files, N hashes, all made by the walk (no round of jobs afterwards); the lines are sha256sum's, sorted
    by path, and the same when the walk is shared with a forked child."""
    from core.local import checksums

    rounds: list[int] = []
    real_many = checksums.hash_many
    monkeypatch.setattr(checksums, "hash_many", lambda jobs, cancel=None: rounds.append(len(jobs)) or real_many(jobs))
    [written] = checksums.write_checksums(tree, 0)
    assert counted["hashed"] == N and rounds == [] and written.entries == N
    text = written.path.read_text(encoding="utf-8")
    folder = REF.local_dir(tree)
    expected = [f"{hashlib.sha256((folder / rel).read_bytes()).hexdigest()}  datasets/acme_scale/{rel}"
                for rel in sorted(f"clips/{i % 4}/{i:05d}.wav" for i in range(N))]
    assert text.splitlines() == expected
    monkeypatch.setattr(walk, "may_fork", lambda: True)
    checksums.write_checksums(tree, 0)
    assert written.path.read_text(encoding="utf-8") == text
    monkeypatch.setattr(hashing, "SMALL", 0)  # every file "large": hashed afterwards, in rounds
    monkeypatch.setattr(checksums, "SMALL", 0)
    checksums.write_checksums(tree, 0)
    assert written.path.read_text(encoding="utf-8") == text and rounds == [N]


def test_checksum_lines_follow_a_sort_of_every_path() -> None:
    """Folder by folder, yet in the order of ``sorted(paths)``: files around a subfolder's name ("b.txt" < "b/"
    < "b0"), a repo whose name extends another's ("x-2" < "x/"), a folder split in two groups by the walk."""
    from core.local.checksums import _in_path_order

    def table(pairs: list[tuple[str, int]], split: bool = False) -> walk.FileTable:
        t = walk.FileTable.from_pairs(pairs)
        if split:  # a folder stated half by each process of the walk
            t.groups = [(p, n[k::2], walk.array("q", s[k::2])) for p, n, s in t.groups for k in (0, 1)]
        return t

    x = table([("a/b.txt", 1), ("a/b0", 2), ("a/b/c", 3), ("a/b/d/e", 4), ("z", 5), ("a/small", 0)], split=True)
    x2 = table([("m", 6), ("a/b", 7)])
    got = [p for p, _, _ in _in_path_order([("models/x", x), ("models/x-2", x2)], 0)]
    assert got == sorted(f"models/{r}/{p}" for r, t in (("x", x), ("x-2", x2)) for p, s in t if s > 0)
    assert got[:3] == ["models/x-2/a/b", "models/x-2/m", "models/x/a/b.txt"] and "models/x/a/small" not in got


def test_forked_hashing_and_stat_agree_with_one_process(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two-process paths (the CLI's) give the same digests and keys as one process."""
    folder = REF.local_dir(tree)
    jobs = [(str(p), "sha256", p.stat().st_size) for p in sorted(folder.rglob("*.wav"))]
    monkeypatch.setattr(hashing, "_may_fork", lambda: True)
    forked = dict(hashing.hash_many(jobs))
    monkeypatch.setattr(hashing, "_may_fork", lambda: False)
    threaded = dict(hashing.hash_many(jobs))
    assert forked == threaded and len(forked) == N
    assert forked[0] == hashlib.sha256((folder / "clips/0/00000.wav").read_bytes()).hexdigest()
    names = [(f"clips/{k}/", "\0".join(sorted(os.listdir(folder / "clips" / str(k))))) for k in range(4)]
    monkeypatch.setattr(walk, "may_fork", lambda: True)
    shared = walk.stat_folders(folder, names)
    alone = {p: walk._keys(folder, p, n) for p, n in names}
    assert shared == alone
    one = walk.stat_folders(folder, [("clips/0/", names[0][1] + "\0missing.wav")])  # one folder: split by file
    assert one["clips/0/"] == alone["clips/0/"] + walk.array("q", [-1] * walk.KEY_FIELDS)


def test_hash_cache_and_record_are_per_folder(tree: Path) -> None:
    verify(tree)
    folder = REF.local_dir(tree)
    cache = hashcache.HashCache(folder)
    assert sorted(cache.folders) == [f"clips/{k}/" for k in range(4)]
    names, keys, digests, sha256s = cache.folders["clips/1/"]
    assert sha256s == ""  # no checksum file asked for a git-blob file's sha256
    count = len(names.split("\0"))
    assert len(keys) == 8 * walk.KEY_FIELDS * count and len(digests.split("\0")) == count == N // 4
    planned = record.read_planned_sizes(folder)
    assert planned is not None and len(planned) == N


def test_progress_printer_keeps_only_files_in_flight() -> None:
    from cli.progress import ProgressPrinter
    from core.results import FileEvent
    from core.states import FileState

    printer = ProgressPrinter(quiet=True)
    for i in range(N):
        printer.on_event(FileEvent("acme/x", "dataset", f"f{i}", FileState.QUEUED, 5 if i == 7 else 0, 10))
    for i in range(N):
        printer.on_event(FileEvent("acme/x", "dataset", f"f{i}", FileState.DOWNLOADING, 5, 10))
        printer.on_event(FileEvent("acme/x", "dataset", f"f{i}", FileState.DONE, 10, 10))
    assert printer.active == {} and printer.resumed == {}  # nothing kept per finished file
    assert (printer.files, printer.finished, printer.bytes_total) == (N, N, 10 * N)
    assert printer.bytes_ended + printer.bytes_queued == 10 * N and printer.base == 5


def test_planning_reports_each_page(root: Path, hub) -> None:  # type: ignore[no-untyped-def]
    """The 2,502-file dataset is listed in 3 pages of the local Hub: planning says so as it goes, and the Hub
    builds its tree once, not once per page."""
    from core.hub.planner import make_plan
    from core.settings import Settings

    steps: list[str] = []
    built = len(hub.repos[("dataset", "acme/many-files")].trees)
    make_plan(Settings(root=root, endpoint=hub.url), [RepoRef("dataset", "acme/many-files")],
              on_progress=lambda ref, text: steps.append(text))
    listed = [int(s.split()[1].replace(",", "")) for s in steps if s.startswith("listing")]
    assert len(listed) == 3 and listed == sorted(listed) and listed[-1] == 2_502  # a line a page (folders too)
    assert steps[0] == "asking the Hub for the file list" and steps[-1].startswith("comparing")
    assert len(hub.repos[("dataset", "acme/many-files")].trees) <= built + 1


def test_a_plan_holds_no_object_per_file(root: Path, hub) -> None:  # type: ignore[no-untyped-def]
    """The 2,502-file plan keeps its listing and its files packed (a few objects a folder): no ``RemoteFile``
    or ``FilePlan`` is left alive once it is made, and the repo's info was asked without its file names."""
    import gc

    from core.hub.planner import make_plan
    from core.plan import FilePlan
    from core.settings import Settings

    plan = make_plan(Settings(root=root, endpoint=hub.url), [RepoRef("dataset", "acme/many-files")])
    rp = plan.repos[0]
    assert rp.ok and len(rp.files) == rp.pending_count == 2_502 and rp.listing is not None
    gc.collect()
    alive = sum(isinstance(o, (RemoteFile, FilePlan)) for o in gc.get_objects())
    assert alive < 50, alive
    assert sum(1 for _ in rp.pending_files()) == 2_502 and rp.bytes_to_fetch == sum(f.size for f in rp.listing.files)


def test_the_services_file_table_is_packed_and_finds_changes_without_a_pass() -> None:
    """The service's table of N files adds no tracked object per file (no dict each), a subscriber's look at
    what changed reads only the changed rows, and a status of every file is one valid line sent in pieces."""
    import gc
    import json

    from core.results import FileEvent
    from core.service.events import with_files as encode_files
    from core.service.table import FileTable
    from core.states import FileState

    table = FileTable()
    gc.collect()
    before = len(gc.get_objects())
    for i in range(N):
        table.put(FileEvent("acme/scale", "dataset", f"clips/{i:05d}.wav", FileState.QUEUED, 0, i), 1, i + 1)
    gc.collect()
    assert len(gc.get_objects()) - before < 50
    for i in (7, 1999, 3):  # three files move on, the latest last
        table.put(FileEvent("acme/scale", "dataset", f"clips/{i:05d}.wav", FileState.DONE, i, i, 1.25, None), 2,
                  N + 1 + len(table.changed_since(N)))
    seq = table.seq
    assert table.changed_since(N) == [7, 1999, 3]
    reads = 0

    def counting(row: int) -> int:
        nonlocal reads
        reads += 1
        return seq[row]

    table.seq = type("Counted", (), {"__getitem__": lambda _self, row: counting(row)})()  # type: ignore[assignment]
    assert table.changed_since(N + 1) == [1999, 3] and reads == 3  # the two changed rows, then one older: stop
    table.seq = seq
    rows = range(len(table))
    piece = 700  # the pieces of a long line join into one valid line
    pieces = [[table.file(r) for r in rows[i:i + piece]] for i in range(0, len(rows), piece)]
    line = b"".join(encode_files({"ok": True}, pieces))
    assert line.endswith(b"]}\n") and line.count(b"\n") == 1 and len(pieces) == 3
    files = json.loads(line)["files"]
    assert len(files) == N and files[3] == {"repo_id": "acme/scale", "repo_type": "dataset", "path": "clips/00003.wav",
                                            "state": "done", "done": 3, "total": 3, "rate": 1.2, "message": None,
                                            "job": 2, "connections": 0}
    assert b"".join(encode_files({}, [])) == b'{"files":[]}\n'
