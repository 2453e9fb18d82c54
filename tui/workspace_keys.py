"""The keys that act on the workspace rather than on a download: ``s`` smoke-checks a model, ``E`` shows the env
lines, ``u`` updates the ticked repos that are behind, ``x`` removes the highlighted repo after saying what it
frees, ``k`` writes the root's lock. A mixin of ``MusicgenApp``: its workers call core through the root's one
writer and post messages."""

from __future__ import annotations

from textual import work

from core.repos import RepoRef
from core.runtime.envlines import shell_lines
from core.service.events import Cleaned
from core.service.requests import Remove, Submit
from core.sizes import human

from . import messages as m
from .bindings import key_of
from .following import ServiceFollower
from .screens import ConfirmScreen, EnvScreen


class WorkspaceKeys(ServiceFollower):
    """``s``, ``E``, ``u``, ``x`` and ``k`` (see the module); ``MusicgenApp`` is the face."""

    env_screen: EnvScreen | None = None

    def action_pane(self, pane: str) -> None:
        raise NotImplementedError  # the face's: it switches the pane and its tab

    def highlighted_ref(self) -> RepoRef | None:
        """The Inventory pane's highlighted repo when it is shown, else the Select pane's."""
        if self.current_pane == "inventory" and (local := self.inventory_pane.highlighted()) is not None:
            return RepoRef(local.repo_type, local.repo_id)
        key = self.select_pane.current_key()
        return self.entries[key].ref if key is not None else None

    def action_smoke(self) -> None:
        """Smoke-check the highlighted model in the Verify pane."""
        ref = self.highlighted_ref()
        if ref is None or ref.repo_type != "model":
            self.notify("highlight a downloaded model first (Select or Inventory pane)", severity="warning")
            return
        self.action_pane("verify")
        self.verify_pane.smoke_start(ref.repo_id)
        self.run_smoke(ref)

    def action_env(self) -> None:
        self.env_screen = EnvScreen(shell_lines(self.settings.root), shell_lines(self.settings.root, "fish"))
        self.push_screen(self.env_screen)
        self.refresh_views()

    def on_smoke_checked(self, message: m.SmokeChecked) -> None:
        self.verify_pane.smoke_check(message.check)

    def on_smoke_finished(self, message: m.SmokeFinished) -> None:
        self.verify_pane.smoke_finish(message.result)

    def on_views_refreshed(self, message: m.ViewsRefreshed) -> None:
        screen = self.env_screen
        if screen is not None and screen.is_attached:
            screen.views(message.summary)
        else:
            self.notify(message.summary, title="Runtime views")

    def action_update(self) -> None:
        """Download the ticked repos that are behind the Hub: only what changed comes."""
        behind = {e.ref: e.profile for e in self.entries.values() if e.selected and e.behind}
        if not behind:
            self.notify(f"No ticked repo is behind the Hub ({key_of(self, 'refresh')} asks the Hub again).",
                        severity="warning")
            return
        if self.downloading:
            self.notify(f"A download is already running ({key_of(self, 'cancel')} cancels it).", severity="warning")
            return
        self.action_pane("downloads")
        self.downloads_pane.reset(f"updating {len(behind)} repo{'s' if len(behind) != 1 else ''}…", planning=True)
        self._submit(Submit(tuple(behind), profiles=tuple(behind.items()), cache="write"))

    def action_lock(self) -> None:
        """Write the root's musicgen.lock (after a verify by the root's one writer); the header then says it."""
        self.notify("Verifying, then writing musicgen.lock…", title="Lock")
        self.write_root_lock()

    def on_lock_said(self, message: m.LockSaid) -> None:
        if message.path:
            self.notify(f"Wrote {message.path}", title="Lock", timeout=8)
            self.scan_local()
            return
        shown = "\n".join(message.problems[:5]) + (f"\n… {len(message.problems) - 5} more"
                                                   if len(message.problems) > 5 else "")
        self.notify(f"No lock written: {len(message.problems)} problems\n{shown}", title="Lock",
                    severity="error", timeout=12)

    def action_remove(self) -> None:
        """Say what removing the highlighted repo frees, ask, then remove it."""
        ref = self.highlighted_ref()
        if ref is None:
            self.notify("highlight a repo first (Select or Inventory pane)", severity="warning")
            return
        self.remove_repo(ref, dry_run=True)

    @work(thread=True, exclusive=True, group="remove", exit_on_error=False)
    def remove_repo(self, ref: RepoRef, dry_run: bool) -> None:
        """A remove (or its dry run) by the root's one writer: the service, else the app under the root's lock."""
        done = self.by_the_writer(Remove((ref,), dry_run), "remove")
        if isinstance(done, Cleaned):
            self.post_message(m.RemovalSaid(ref, done))

    def on_removal_said(self, message: m.RemovalSaid) -> None:
        c, ref = message.cleaned, message.ref
        row = c.items[0] if c.items else {}
        if row.get("reason"):
            self.notify(f"{ref.repo_id}: {row['reason']}", severity="warning")
            return
        if not c.dry_run:
            self.notify(f"Removed {ref.repo_id}: freed {human(c.bytes_freed)}", title="Removed", timeout=8)
            self.scan_local()
            return
        needed = f"\nStill needed by {', '.join(row['needed_by'])}." if row.get("needed_by") else ""
        text = (f"Remove {ref.repo_id}?\n\n{row.get('files', 0):,} files; frees {human(c.bytes_freed)} on the disk "
                f"(its folder, its runtime views, its rows in the inventories and checksum files).{needed}")

        def answered(yes: bool | None) -> None:
            if yes:
                self.remove_repo(ref, dry_run=False)

        self.push_screen(ConfirmScreen(text, "[y] yes, remove it    [n] no"), answered)
