"""What ``download`` prints: the plan, a run's results, a detached hand-over."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..output import table

if TYPE_CHECKING:
    from pathlib import Path

    from core.plan import Plan
    from core.repos import RepoRef
    from core.results import RunResult


class DetachedView:
    def __init__(self, refs: list[RepoRef], pid: int | None, log: Path) -> None:
        self.refs, self.pid, self.log = refs, pid, log

    def data(self) -> dict[str, Any]:
        return {"detached": True, "service_pid": self.pid,
                "repos": [{"repo_id": r.repo_id, "repo_type": r.repo_type} for r in self.refs]}

    def text(self) -> Iterator[str]:
        yield (f"handed {len(self.refs)} repo{'s' if len(self.refs) != 1 else ''} to the download service "
               f"(pid {self.pid}); it runs on without this terminal")
        yield "watch:  musicgen-tui status --follow      stop:  musicgen-tui stop      (add --root if you use one)"
        yield f"log:    {self.log}"


class PlanView:
    """The plan: a table of repos with notes and the total, or JSON."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def data(self) -> dict[str, Any]:
        from core.plan import plan_data

        return plan_data(self.plan)

    def text(self) -> Iterator[str]:
        from core.sizes import human

        plan = self.plan
        rows = [["REPO", "TYPE", "PROFILE", "FILES", "TO FETCH", "PRESENT", "STATUS"]]
        notes = []
        for r in plan.repos:
            rows.append([r.ref.repo_id + (" (dependency)" if r.dependency_of else ""), r.ref.repo_type, r.profile,
                         str(len(r.files)) if r.ok else "-", human(r.bytes_to_fetch) if r.ok else "-",
                         human(r.bytes_present) if r.ok else "-", r.status.label])
            if r.message:
                notes.append(f"  {r.ref.repo_id}: {r.message}")
            if r.dependency_of:
                notes.append(f"  {r.ref.repo_id}: needed by {r.dependency_of}")
            notes += [f"  {r.ref.repo_id}: {n}" for n in r.notes]
            notes += [f"  {r.ref.repo_id}: skipping {p!r}, a name not supported here: {why}"
                      for p, why in r.unsafe.items()]
        yield from table(rows, {3, 4, 5})
        yield from notes
        yield (f"total: {human(plan.bytes_to_fetch)} to fetch, {human(plan.bytes_present)} present; "
               f"free at {plan.root}: {human(plan.free_bytes)}")


class PlanData:
    """A plan the download service made, as data (``download --json`` through the service)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.plan = data

    def data(self) -> dict[str, Any]:
        return self.plan

    def text(self) -> Iterator[str]:
        return iter(())


class RunView:
    """What a run did, per repo; merged into the plan's JSON under ``result``."""

    def __init__(self, result: RunResult) -> None:
        self.result = result

    def data(self) -> dict[str, Any]:
        return {"result": self.result.data()}

    def text(self) -> Iterator[str]:
        from core.sizes import human

        for r in self.result.repos:
            state = {"complete": "ok", "cancelled": "cancelled"}.get(r.outcome, "FAILED")
            yield (f"{r.repo_id}: {state}: {r.done} fetched, {r.skipped} already complete, {len(r.failed)} failed"
                   + (f", {r.cancelled} cancelled (partial files kept)" if r.cancelled else "")
                   + (f": {r.error}" if r.error else ""))
            yield from (f"  {p}: {m}" for p, m in r.failed)
        yield f"fetched {human(self.result.bytes_fetched)}"
        yield from self.result.notes  # the loaders' runtime views, when the run changed them
