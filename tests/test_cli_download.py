"""End to end: ``musicgen-tui download`` with the real huggingface_hub client against the local Hub."""

from __future__ import annotations

from pathlib import Path

from conftest import TOKEN, bin_path, repo_dir, run_bin, tree_bytes

from localhub import LocalHub


def expected_bytes(hub: LocalHub, repo_type: str, repo_id: str) -> dict[str, bytes]:
    repo = hub.repos[(repo_type, repo_id.lower())]
    return {f.path: f.read() for f in repo.files}


def test_dry_run_prints_plan_and_changes_nothing(cli, root: Path, hub: LocalHub) -> None:
    r = cli("download", "--model", "acme/tiny-model", "--dataset", "acme/many-files")
    assert r.code == 0, r.err
    assert "acme/tiny-model" in r.out and "acme/many-files" in r.out
    assert "2502" in r.out  # every file of the paginated listing
    assert "dry run: nothing changed" in r.out
    assert "free at" in r.out
    assert list(root.iterdir()) == []
    assert hub.stats.requests["GET"] == 0
    assert hub.stats.requests["tree"] >= 3  # 2,502 entries + folders: three pages of 1,000


def test_dry_run_json(cli, root: Path) -> None:
    r = cli("download", "--model", "acme/tiny-model", "--json")
    assert r.code == 0
    data = r.json()
    [repo] = data["repos"]
    assert repo["status"] == "available"
    assert repo["file_count"] == 8
    assert repo["bytes_to_fetch"] == repo["bytes_total"] > 1_500_000
    assert repo["path"] == "models/acme/acme_tiny-model"
    assert len(repo["commit"]) == 40
    assert data["space_ok"] is True


def test_run_yields_byte_identical_files_in_layout(cli, root: Path, hub: LocalHub) -> None:
    r = cli("download", "--model", "acme/tiny-model", "--dataset", "acme/many-files", "--run")
    assert r.code == 0, r.out + r.err
    model = repo_dir(root, "model", "acme/tiny-model")
    assert model == root / "models" / "acme" / "acme_tiny-model"
    assert tree_bytes(model) == expected_bytes(hub, "model", "acme/tiny-model")
    assert (model / "empty.txt").stat().st_size == 0
    assert (model / "données" / "mélodie €.json").is_file()
    ds = root / "datasets" / "acme_many-files"
    assert tree_bytes(ds) == expected_bytes(hub, "dataset", "acme/many-files")
    meta = model / ".cache" / "huggingface" / "download" / "weights" / "model.safetensors.metadata"
    commit, etag = meta.read_text().splitlines()[:2]
    repo = hub.repos[("model", "acme/tiny-model")]
    assert commit == repo.commit
    assert etag == repo.get("weights/model.safetensors").sha256  # type: ignore[union-attr]
    assert not list(model.rglob("*.incomplete"))


def test_second_run_fetches_nothing(cli, root: Path, hub: LocalHub) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--run").code == 0
    gets = hub.stats.requests["GET"]
    r = cli("download", "--model", "acme/tiny-model", "--run", "--json")
    assert r.code == 0
    assert hub.stats.requests["GET"] == gets
    assert r.json()["repos"][0]["status"] == "complete"


def test_hf_cache_verify_accepts_each_folder(cli, root: Path, hub: LocalHub) -> None:
    assert cli("download", "--model", "acme/tiny-model", "--dataset", "acme/many-files", "--run").code == 0
    for repo_type, repo_id in (("model", "acme/tiny-model"), ("dataset", "acme/many-files")):
        p = run_bin([bin_path("hf"), "cache", "verify", repo_id, "--repo-type", repo_type, "--local-dir",
                     str(repo_dir(root, repo_type, repo_id)), "--fail-on-missing-files", "--fail-on-extra-files"],
                    root, HF_ENDPOINT=hub.url)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "All checksums match" in p.stdout


def test_include_exclude(cli, root: Path) -> None:
    r = cli("download", "--model", "acme/tiny-model", "--include", "*.json", "--exclude", "données/*", "--run")
    assert r.code == 0
    files = set(tree_bytes(repo_dir(root, "model", "acme/tiny-model")))
    assert files == {"config.json"}


def test_missing_repo_is_one_line_and_others_complete(cli, root: Path) -> None:
    r = cli("download", "--model", "acme/does-not-exist", "--model", "acme/tiny-model", "--run")
    assert r.code == 1
    assert "acme/does-not-exist: not on this endpoint" in r.out
    assert "Traceback" not in r.out + r.err
    assert (repo_dir(root, "model", "acme/tiny-model") / "state_dict.bin").is_file()
    assert not repo_dir(root, "model", "acme/does-not-exist").exists()


def test_gated_without_token_says_what_to_do(cli, root: Path) -> None:
    r = cli("download", "--model", "acme/gated-model", "--model", "acme/tiny-model", "--run")
    assert r.code == 1
    line = next(ln for ln in r.out.splitlines() if ln.startswith("  acme/gated-model:"))
    assert "HF_TOKEN" in line and "hf auth login" in line
    assert "gated" in r.out
    assert (repo_dir(root, "model", "acme/tiny-model") / "state_dict.bin").is_file()
    assert not (repo_dir(root, "model", "acme/gated-model") / "w.bin").exists()


def test_gated_with_token_from_dotenv_never_shows_it(cli, root: Path, hub: LocalHub) -> None:
    (root / ".env").write_text(f"HF_TOKEN={TOKEN}\n")
    r = cli("download", "--model", "acme/gated-model", "--run", "--json")
    assert r.code == 0, r.out
    assert (repo_dir(root, "model", "acme/gated-model") / "w.bin").read_bytes() == \
        hub.repos[("model", "acme/gated-model")].get("w.bin").read()  # type: ignore[union-attr]
    cli("inventory")
    cli("verify")
    assert TOKEN not in r.out + r.err
    for p in root.rglob("*"):
        if p.is_file() and p.name != ".env":
            assert TOKEN.encode() not in p.read_bytes(), p


def test_invalid_token_is_reported(cli, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_value")
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 1
    assert "token was refused" in r.out
    assert "hf_wrong_token_value" not in r.out + r.err


def test_hostile_entries_are_skipped_and_reported(cli, root: Path, tmp_path: Path) -> None:
    r = cli("download", "--model", "acme/hostile", "--run")
    assert r.code == 1
    assert "../escape.txt" in r.out and "/etc/abs.txt" in r.out
    assert "differs only by case" in r.out
    assert "a file name longer than 242 bytes" in r.out
    folder = repo_dir(root, "model", "acme/hostile")
    assert set(tree_bytes(folder)) == {"ok.txt", "Case.txt"}
    assert not (folder.parent / "escape.txt").exists()
    assert not any(p.name in ("escape.txt", "abs.txt") for p in tmp_path.rglob("*"))


def test_not_enough_space_refuses_before_any_byte(cli, root: Path, hub: LocalHub, monkeypatch) -> None:
    monkeypatch.setenv("MUSICGEN_MIN_FREE", "1000P")
    r = cli("download", "--model", "acme/tiny-model", "--run")
    assert r.code == 2  # could not run
    assert "not enough free space" in r.err and "need" in r.err and "free" in r.err and "--force" in r.err
    assert hub.stats.requests["GET"] == 0
    assert not (root / "models").exists()
    r = cli("download", "--model", "acme/tiny-model", "--run", "--force")
    assert r.code == 0
    assert (repo_dir(root, "model", "acme/tiny-model") / "state_dict.bin").is_file()


def test_usage_errors_exit_2(cli) -> None:
    r = cli("download")
    assert r.code == 2 and "nothing selected" in r.err
    r = cli("download", "--model", "../etc")
    assert r.code == 2 and "not a Hub repo id" in r.err
    r = cli("checksums", "--min-size", "lots")
    assert r.code == 2


def test_wrapper_script_passes_flags(root: Path, hub: LocalHub) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "download_musicgen_full.sh"
    p = run_bin([str(script), "--model", "acme/tiny-model", "--run"], root,
                MUSICGEN_TUI=bin_path("musicgen-tui"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert (repo_dir(root, "model", "acme/tiny-model") / "state_dict.bin").is_file()


def test_mirror_without_tree_api_falls_back_to_repo_info(cli, root: Path, hub: LocalHub) -> None:
    hub.tree_api = False
    try:
        r = cli("download", "--model", "acme/tiny-model", "--run")
    finally:
        hub.tree_api = True
    assert r.code == 0, r.out + r.err
    assert tree_bytes(repo_dir(root, "model", "acme/tiny-model")) == expected_bytes(hub, "model", "acme/tiny-model")
    assert cli("verify").code == 0


def test_progress_lines_from_many_threads_arrive_whole_and_in_full(capsys) -> None:  # type: ignore[no-untyped-def]
    """Eight threads report 400 files at once: every line is printed once, whole, by the end of the run."""
    import threading

    from cli.progress import ProgressPrinter
    from core.results import FileEvent
    from core.states import FileState

    printer = ProgressPrinter(interval=0.0)

    def worker(t: int) -> None:
        for i in range(50):
            path = f"t{t}/f{i}.bin"
            printer.on_event(FileEvent("acme/x", "model", path, FileState.DOWNLOADING, 0, 10))
            state = FileState.FAILED if i == 7 else FileState.DONE
            printer.on_event(FileEvent("acme/x", "model", path, state, 10, 10,
                                       message="boom" if state is FileState.FAILED else None))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    printer.finish()
    lines = capsys.readouterr().err.splitlines()
    done = [ln for ln in lines if ln.startswith("done    ")]
    failed = [ln for ln in lines if ln.startswith("FAILED  ")]
    assert len(done) == 8 * 49
    assert {ln.split(" (")[0] for ln in done} == {f"done    acme/x/t{t}/f{i}.bin" for t in range(8) for i in range(50)
                                                 if i != 7}
    assert sorted(failed) == sorted(f"FAILED  acme/x/t{t}/f7.bin: boom" for t in range(8))
    assert all(ln.startswith(("done    ", "FAILED  ", "[")) for ln in lines)  # no line cut into another


def test_progress_prints_each_retry_once_and_totals_with_an_eta(capsys) -> None:  # type: ignore[no-untyped-def]
    """Every event of a retried attempt carries its reason: the line is printed once a reason, not per event."""
    from cli.progress import ProgressPrinter
    from core.results import FileEvent
    from core.states import FileState

    printer = ProgressPrinter(interval=0.0)
    clock = [0.0]
    printer._time = lambda: clock[0]  # a second passes between two events
    printer.started = printer.last = printer.flushed = 0.0

    def event(state: FileState, done: int, message: str | None = None) -> None:
        clock[0] += 1.0
        printer.on_event(FileEvent("acme/x", "model", "a.bin", state, done, 1_000, 100.0, message))

    event(FileState.QUEUED, 0)
    event(FileState.DOWNLOADING, 100)
    for done in (200, 300, 400):
        event(FileState.DOWNLOADING, done, "retrying (attempt 2 of 6): connection reset")
    for done in (500, 600):
        event(FileState.DOWNLOADING, done, "retrying (attempt 3 of 6): connection reset")
    event(FileState.DONE, 1_000)
    printer.finish()
    lines = capsys.readouterr().err.splitlines()
    assert [ln for ln in lines if ln.startswith("retry")] == [
        "retry   acme/x/a.bin: retrying (attempt 2 of 6): connection reset",
        "retry   acme/x/a.bin: retrying (attempt 3 of 6): connection reset"]
    assert "[400 Bytes / 1000 Bytes, 100 Bytes/s, ETA 6s] 0 done, 0 failed, 1 to go" in lines


def test_progress_every_must_be_positive(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("download", "--model", "acme/tiny-model", "--run", "--progress-every", "0")
    assert r.code == 2 and r.err.strip() == "musicgen-tui: error: --progress-every must be more than 0 seconds"
