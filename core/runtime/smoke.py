"""``smoke``: proves a local model starts. Without any heavy dependency: every file its loaders open is present
and verified, safetensors headers agree with their file, index and config, ``.bin`` pickles open as zips
without running code, tokenizer and processor files parse, and the runtime views show the workspace. With torch
and transformers importable: each model is loaded offline from the views in a child process (``loadcheck``)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..catalog import Catalog
from ..local.inventory import now_iso
from ..local.record import Record, read_planned_sizes, read_record
from ..local.verify import FileCheck
from ..repos import RepoRef
from ..sources import Source
from .envlines import env_vars
from .pickles import Unreadable, check_torch_file
from .readiness import Readiness, readiness
from .tensors import Shapes, check_config, check_index, read_header
from .views import view_names, view_problems

JSON_MAX = 64 << 20  # bytes of a config or tokenizer file parsed at most
LOAD_TIMEOUT = 1800.0  # seconds the child may take for all its loads
Verifier = Callable[[list[RepoRef]], list[FileCheck]]  # the verify problems of these repos (service or local)


@dataclass(frozen=True)
class SmokeCheck:
    """One finding: ``ok`` None when skipped; ``mend`` the command that repairs a failure."""

    repo_id: str
    check: str  # files, verified, structure, view, load transformers, load audiocraft
    ok: bool | None
    detail: str = ""
    path: str | None = None
    mend: str | None = None
    seconds: float | None = None
    peak_bytes: int | None = None


@dataclass
class SmokeResult:
    checks: list[SmokeCheck] = field(default_factory=list)
    ready: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # repo -> loader -> missing
    runtime: str = ""  # why the loads were skipped ("" when they ran)
    generated_at: str = field(default_factory=now_iso)

    @property
    def problems(self) -> list[SmokeCheck]:
        return [c for c in self.checks if c.ok is False]

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> dict[str, Any]:
        return {"schema_version": 1, "generated_at": self.generated_at, "ok": self.ok, "runtime": self.runtime,
                "repos": [{"repo_id": r, "loaders": {k: {"ready": not v, "missing": v} for k, v in loaders.items()}}
                          for r, loaders in self.ready.items()],
                "checks": [asdict(c) for c in self.checks]}


def runtime_missing() -> str:
    """Why the real loads cannot run here ("" when torch and transformers are importable)."""
    gone = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    return f"{' and '.join(gone)} not installed: structural checks only" if gone else ""


def smoke(root: Path, refs: list[RepoRef], catalog: Catalog, sources: dict[str, Source], verifier: Verifier, *,
          load: bool = True, on_check: Callable[[SmokeCheck], object] | None = None) -> SmokeResult:
    """Check ``refs`` (local models); ``on_check`` hears each finding as it is made."""
    result = SmokeResult()

    def add(check: SmokeCheck) -> None:
        result.checks.append(check)
        if on_check is not None:
            on_check(check)

    states = {r.repo_id: readiness(root, r, catalog, sources) for r in refs}
    for ref in refs:
        state = states[ref.repo_id]
        if state is None:
            add(SmokeCheck(ref.repo_id, "files", False, "not downloaded by this tool", mend=_get(ref)))
            continue
        result.ready[ref.repo_id] = state.missing
        _files(state, add)
    deps = {catalog.canonical(RepoRef("model", d.repo_id)) for s in states.values() if s is not None
            for k in s.expected for d in s.needs[k].deps}
    wanted = [r for r in refs if states[r.repo_id] is not None]
    for problem in verifier(wanted + sorted(deps - set(wanted), key=str)):
        add(SmokeCheck(problem.repo_id, "verified", False, f"{problem.status}: {problem.detail}", problem.path,
                       _get(RepoRef("model", problem.repo_id))))
    for ref in wanted:
        state = states[ref.repo_id]
        assert state is not None
        _structure(root, ref, state, catalog, add)
    if not load:
        result.runtime = "loads not asked for"
    elif (why := runtime_missing()):
        result.runtime = why
    else:
        failed = {c.repo_id for c in result.problems}
        tasks = [_task(root, s, loader, sources) for s in states.values() if s is not None
                 and s.ref.repo_id not in failed for loader in s.ready]
        _load(root, tasks, add)
    return result


def _get(ref: RepoRef, profile: str | None = None) -> str:
    return (f"musicgen-tui download --model {ref.repo_id}" + (f" --profile {profile}" if profile else "")
            + " --run")


def _files(state: Readiness, add: Callable[[SmokeCheck], None]) -> None:
    if not state.needs:
        add(SmokeCheck(state.ref.repo_id, "files", None, "no loader reads this repo's files"))
    for loader, gone in state.missing.items():
        if gone and loader not in state.expected:
            add(SmokeCheck(state.ref.repo_id, "files", None, f"not downloaded for {loader} (profile "
                           f"{state.profile}); it would need {', '.join(gone)}", mend=_get(state.ref, loader)))
        elif gone:
            add(SmokeCheck(state.ref.repo_id, "files", False, f"{loader} needs {', '.join(gone)}", gone[0],
                           _get(state.ref, loader)))
        else:
            add(SmokeCheck(state.ref.repo_id, "files", True, f"{loader}: every file it opens is here"))


def _structure(root: Path, ref: RepoRef, state: Readiness, catalog: Catalog,
               add: Callable[[SmokeCheck], None]) -> None:
    """Each file a ready loader opens, read as what it claims to be; then the views."""
    local_dir = ref.local_dir(root)
    record = read_record(local_dir)
    assert record is not None
    paths = sorted({p for loader, n in state.needs.items() if not state.missing[loader] for p in n.files})
    config = _json(local_dir / "config.json") if "config.json" in paths else None
    shards: dict[str, Shapes] = {}
    wrong: list[tuple[str, str]] = []
    for p in paths:
        try:
            if p.endswith(".safetensors"):
                shards[p] = read_header(local_dir / p)
            elif p.endswith((".bin", ".th")):
                check_torch_file(local_dir / p)
            elif p.endswith(".json"):
                _json(local_dir / p)
            elif p == "spiece.model":
                _spiece(local_dir / p)
        except (Unreadable, OSError, ValueError) as e:
            wrong.append((p, str(e)))
    index = next((p for p in paths if p.endswith(".safetensors.index.json")), None)
    if index is not None and not any(p == index for p, _ in wrong):
        wrong += [(index, w) for w in check_index(_json(local_dir / index) or {}, shards)]
    if isinstance(config, dict) and shards:
        names = [n for s in shards.values() for n in s]
        merged = {n: shape for s in shards.values() for n, shape in s.items()}
        wrong += [("config.json", w) for w in check_config(config, names, merged)]
    for p, why in wrong:
        add(SmokeCheck(ref.repo_id, "structure", False, why, p, _get(ref)))
    if not wrong and paths:
        add(SmokeCheck(ref.repo_id, "structure", True, f"{len(paths)} files read as what they claim to be"))
    _view(root, ref, record, paths, catalog, add)


def _view(root: Path, ref: RepoRef, record: Record, paths: list[str], catalog: Catalog,
          add: Callable[[SmokeCheck], None]) -> None:
    planned = read_planned_sizes(ref.local_dir(root))
    if planned is None or not paths:
        return
    stale = view_problems(root, ref.local_dir(root), view_names(catalog, planned), record.listing.commit, paths)
    if stale:
        add(SmokeCheck(ref.repo_id, "view", False, "; ".join(stale[:3]), mend="musicgen-tui env"))
    else:
        add(SmokeCheck(ref.repo_id, "view", True, "the HF-cache view shows the workspace's files"))


def _json(path: Path) -> Any:
    if path.stat().st_size > JSON_MAX:
        raise Unreadable(f"over {JSON_MAX} bytes")
    try:
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Unreadable(f"does not parse as JSON ({e})") from None


def _spiece(path: Path) -> None:
    """A SentencePiece model: loaded when sentencepiece is here, else at least not empty."""
    if path.stat().st_size == 0:
        raise Unreadable("empty")
    if importlib.util.find_spec("sentencepiece") is not None:
        import sentencepiece

        try:
            sentencepiece.SentencePieceProcessor(model_file=str(path))
        except (RuntimeError, OSError) as e:
            raise Unreadable(f"sentencepiece cannot load it ({' '.join(str(e).split())[:200]})") from None


def _task(root: Path, state: Readiness, loader: str, sources: dict[str, Source]) -> dict[str, Any]:
    needs = state.needs[loader]
    demucs = next((d for d in needs.deps if d.repo_id.lower() in sources), None)
    url = None
    if demucs is not None:
        source = sources[demucs.repo_id.lower()]
        chosen = source.chosen(demucs.profile)
        url = next((p.url for p in source.parts if p.name in chosen), None)
    codec = next((d.repo_id for d in needs.deps if "encodec" in d.repo_id.lower()), None)
    return {"repo_id": state.ref.repo_id, "loader": loader, "codec": codec, "demucs": url}


def _load(root: Path, tasks: list[dict[str, Any]], add: Callable[[SmokeCheck], None]) -> None:
    """Run the loads in the child, offline, the views in its environment; relay each line as it comes."""
    if not tasks:
        return
    env = {**os.environ, **env_vars(root), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env.pop("HF_TOKEN", None)  # offline: the token has nowhere to go
    with tempfile.TemporaryFile("w+") as errors:  # a loader's chatter on stderr never fills an unread pipe
        seen = _relay(tasks, env, errors, add)
        errors.seek(0)
        last = next((ln for ln in reversed(errors.read().splitlines()) if ln.strip()), "")
    for t in tasks:
        if (t["repo_id"], t["loader"]) not in seen:
            add(SmokeCheck(t["repo_id"], f"load {t['loader']}", False,
                           f"the load process ended before this load: {last[:300]}"))


def _relay(tasks: list[dict[str, Any]], env: dict[str, str], errors: IO[str],
           add: Callable[[SmokeCheck], None]) -> set[tuple[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "core.runtime.loadcheck"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=errors, env=env, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(tasks))
    proc.stdin.close()
    seen = set()
    for line in proc.stdout:
        try:
            d = json.loads(line)
            seen.add((d["repo_id"], d["loader"]))
            add(SmokeCheck(str(d["repo_id"]), f"load {d['loader']}", bool(d["ok"]), str(d["detail"]),
                           seconds=float(d["seconds"]), peak_bytes=int(d["peak_bytes"])))
        except (ValueError, KeyError, TypeError):
            continue  # a loader's own print on stdout
    try:
        proc.wait(LOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return seen
