"""Ready to run, in the app: what each local model is ready for, the smoke check of one model streamed into the
Verify pane, and the runtime views refreshed through the root's service for the env lines."""

from __future__ import annotations

from pathlib import Path

from textual import work

from core.local.inventory import LocalRepo
from core.local.lock import LockHeld
from core.local.verify import FileCheck
from core.repos import RepoRef
from core.runtime.readiness import summaries
from core.runtime.smoke import smoke
from core.service.chores import do_clean, do_export, do_verify, locally
from core.service.client import ServiceError, ensure
from core.service.events import Cleaned, ExportDone, Verified
from core.service.requests import Export, Remove, Verify
from core.sources import sources_or_builtin
from core.workspace.lockfile import LOCK_NAME, LockError, compare, read_lock

from .messages import LocalScanned, LockSaid, ServiceFailed, SmokeChecked, SmokeFinished, ViewsRefreshed
from .workers import WorkerApp


def against_lock(root: Path) -> str:
    """The header's word on the root against its ``musicgen.lock``: records only, no hashing ("" without one)."""
    path = root / LOCK_NAME
    if not path.is_file():
        return ""
    try:
        problems = compare(root, read_lock(path, follow=False))
    except LockError:
        return f"{LOCK_NAME} unreadable"
    if not problems:
        return f"matches {LOCK_NAME}"
    return f"differs from {LOCK_NAME}: {len(problems):,} difference{'s' if len(problems) != 1 else ''}"


class ReadyApp(WorkerApp):
    """The workers of the ready-to-run keys (``s`` smoke, ``E`` env) and the readiness of each local model."""

    def scanned(self, repos: list[LocalRepo]) -> LocalScanned:
        """A scan's message, with what each model is ready for (a record and a few stats a model)."""
        refs = [RepoRef(r.repo_type, r.repo_id) for r in repos if r.repo_type == "model"]
        sources = sources_or_builtin(self.settings.catalog_file)
        return LocalScanned(repos, summaries(self.settings.root, refs, self.catalog, sources),
                            against_lock(self.settings.root))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def run_smoke(self, ref: RepoRef) -> None:
        """Smoke-check one model: its verify asked of the root's service (the one writer), the rest read here;
        the real loads run in a child process, so the app never holds torch."""
        def verifier(refs: list[RepoRef]) -> list[FileCheck]:
            request = Verify(tuple(refs))
            try:
                client = ensure(self.settings.root, self.settings)
            except ServiceError:  # no service can run here (a read-only root): verified as it is
                with locally(self.settings.root):
                    return do_verify(self.settings.root, request).result.problems
            with client:
                done = [m for m in client.chore(request) if isinstance(m, Verified)]
            return done[-1].result.problems if done else []

        try:
            result = smoke(self.settings.root, [ref], self.catalog, sources_or_builtin(self.settings.catalog_file),
                           verifier, on_check=lambda c: self.post_message(SmokeChecked(c)))
        except (ServiceError, LockHeld, OSError) as e:
            self.post_message(ServiceFailed(f"smoke: {e}"))
            return
        self.post_message(SmokeFinished(result))

    @work(thread=True, exclusive=True, group="views", exit_on_error=False)
    def refresh_views(self) -> None:
        """The runtime views brought in line, by the root's service (or under the root's lock without one)."""
        done = self.by_the_writer(Export(inventories=False, checksums=False, views=True), "runtime views")
        if isinstance(done, ExportDone):
            self.post_message(ViewsRefreshed(done.views or f"not refreshed: {done.unwritable}"))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def write_root_lock(self) -> None:
        """``musicgen.lock`` written by the root's one writer, right after its verify finds no problem."""
        done = self.by_the_writer(Export(inventories=False, checksums=False, lock=True), "lock")
        if isinstance(done, ExportDone):
            self.post_message(LockSaid(done.lock, [f"{p.repo_id}: {p.path}: {p.status}" for p in done.lock_problems]
                                       or ([done.unwritable] if done.unwritable else [])))

    def by_the_writer(self, request: Export | Remove, what: str) -> ExportDone | Cleaned | None:
        """An export or a remove by the root's one writer: its service (started when none runs), else the app
        under the root's lock (a read-only root, where no service can run). A failure is one line on screen."""
        try:
            try:
                client = ensure(self.settings.root, self.settings)
            except ServiceError:
                with locally(self.settings.root):
                    if isinstance(request, Export):
                        return do_export(self.settings.root, request, self.settings.checksum_min)
                    return do_clean(self.settings.root, request, self.settings.catalog_file)
            with client:
                return next((c for c in client.chore(request) if isinstance(c, ExportDone | Cleaned)), None)
        except (ServiceError, LockHeld, OSError) as e:
            self.post_message(ServiceFailed(f"{what}: {e}"))
            return None
