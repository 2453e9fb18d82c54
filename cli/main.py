"""``musicgen-tui``: the entry point. Validates arguments and prints; ``core`` does the work.

Headless commands never import Textual or Rich, and import ``core`` only once they run, so they start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.catalog import Catalog
    from core.plan import Plan
    from core.repos import RepoRef
    from core.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", metavar="DIR", help="workspace root (default: $MUSICGEN_ROOT or the current folder)")
    parser = argparse.ArgumentParser(
        prog="musicgen-tui", parents=[common],
        description="Keep a local workspace of MusicGen models and music datasets from the Hugging Face Hub.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dl = sub.add_parser("download", parents=[common], help="plan (default) or run (--run) a download")
    dl.add_argument("--models", action="store_true", help="every model of the catalog")
    dl.add_argument("--datasets", action="store_true", help="every dataset of the catalog")
    dl.add_argument("--model", action="append", default=[], metavar="ID", help="a model repo (any Hub id)")
    dl.add_argument("--dataset", action="append", default=[], metavar="ID", help="a dataset repo (any Hub id)")
    dl.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching GLOB")
    dl.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching GLOB")
    dl.add_argument("--profile", choices=("full", "audiocraft", "transformers"), default="full",
                    help="audiocraft: state_dict.bin + compression_state_dict.bin; transformers: configs, tokenizer "
                         "and one weight format; full: everything (default)")
    dl.add_argument("--fp32", action="store_true", help="with --profile transformers, also take the fp32 copies")
    dl.add_argument("--no-deps", action="store_true", help="do not add the repos the selection depends on")
    dl.add_argument("--revision", metavar="REV", help="a branch, tag or commit of the named repos (default main)")
    dl.add_argument("--max-workers", type=int, default=8, metavar="N", help="files fetched at once (default 8)")
    dl.add_argument("--force", action="store_true", help="start even when free disk looks too small")
    dl.add_argument("--run", action="store_true", help="download; without it, only print the plan")
    dl.add_argument("--json", action="store_true", help="print the plan and results as JSON on stdout")

    inv = sub.add_parser("inventory", parents=[common], help="write the three JSON inventories")
    inv.add_argument("--json", action="store_true", help="print the combined inventory on stdout")

    ck = sub.add_parser("checksums", parents=[common], help="write sha256sum-compatible checksum files")
    ck.add_argument("--min-size", default="100M", metavar="SIZE", help="only files over SIZE (default 100M)")

    ver = sub.add_parser("verify", parents=[common], help="check downloaded files against the Hub's hashes")
    ver.add_argument("--model", action="append", default=[], metavar="ID")
    ver.add_argument("--dataset", action="append", default=[], metavar="ID")
    ver.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    ver.add_argument("--full", action="store_true", help="hash every file again, ignoring remembered hashes")

    cat = sub.add_parser("catalog", parents=[common], help="list the catalog (with the root's catalog.toml)")
    cat.add_argument("--json", action="store_true", help="print the entries as JSON on stdout")

    demo = sub.add_parser("demo", parents=[common], help="open the app on a local Hub with stand-ins, offline")
    demo.add_argument("--headless", action="store_true", help="run the workflow with the CLI instead of the app")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"download": cmd_download, "inventory": cmd_inventory, "checksums": cmd_checksums,
                "verify": cmd_verify, "catalog": cmd_catalog, "demo": cmd_demo}
    try:
        if args.command is None:
            return cmd_tui(args)
        return commands[args.command](args)
    except UsageError as e:
        print(f"musicgen-tui: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted: partial files are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        from core.errors import describe

        print(f"musicgen-tui: error: {describe(e)}", file=sys.stderr)
        return EXIT_FAILED


def run() -> None:
    """Console-script entry."""
    sys.exit(main())


# --- helpers ------------------------------------------------------------------------------------
def settings_for(args: argparse.Namespace) -> Settings:
    from core.settings import load_settings

    try:
        return load_settings(args.root)
    except ValueError as e:
        raise UsageError(f"bad setting: {e}") from None


def catalog_for(settings: Settings) -> Catalog:
    from core.catalog import CatalogError, load_catalog

    try:
        return load_catalog(settings.root)
    except CatalogError as e:
        raise UsageError(str(e)) from None


def refs_from(args: argparse.Namespace, groups: bool, catalog: Catalog | None = None) -> list[RepoRef]:
    from core.repos import RepoRef

    refs: list[RepoRef] = []
    if groups and args.models and catalog is not None:
        refs += catalog.refs("model")
    if groups and args.datasets and catalog is not None:
        refs += catalog.refs("dataset")
    try:
        refs += [RepoRef("model", i) for i in args.model] + [RepoRef("dataset", i) for i in args.dataset]
    except ValueError as e:
        raise UsageError(str(e)) from None
    if catalog is not None:
        refs = [catalog.canonical(r) for r in refs]
    return list(dict.fromkeys(refs))


def shown(path: os.PathLike[str] | str) -> str:
    """A path relative to the current folder when it lies below it, else absolute."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --- download -----------------------------------------------------------------------------------
def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "root": str(plan.root), "free_bytes": plan.free_bytes, "bytes_to_fetch": plan.bytes_to_fetch,
        "bytes_present": plan.bytes_present, "bytes_needed": plan.bytes_needed, "space_ok": plan.space_ok,
        "repos": [{
            "repo_id": r.ref.repo_id, "repo_type": r.ref.repo_type, "path": r.ref.relpath(), "status": r.status,
            "status_label": r.status_label, "message": r.message, "profile": r.profile,
            "requested_id": r.requested_id, "dependency_of": r.dependency_of, "depends": r.depends,
            "notes": r.notes, "commit": r.listing.commit if r.listing else None, "file_count": len(r.files),
            "bytes_total": r.bytes_total, "bytes_to_fetch": r.bytes_to_fetch, "bytes_present": r.bytes_present,
            "unsafe": [{"path": p, "reason": why} for p, why in r.unsafe.items()],
        } for r in plan.repos],
    }


def print_plan(plan: Plan) -> None:
    from core.sizes import human

    rows = [["REPO", "TYPE", "PROFILE", "FILES", "TO FETCH", "PRESENT", "STATUS"]]
    notes = []
    for r in plan.repos:
        rows.append([r.ref.repo_id + (" (dependency)" if r.dependency_of else ""), r.ref.repo_type, r.profile,
                     str(len(r.files)) if r.ok else "-", human(r.bytes_to_fetch) if r.ok else "-",
                     human(r.bytes_present) if r.ok else "-", r.status_label])
        if r.message:
            notes.append(f"  {r.ref.repo_id}: {r.message}")
        if r.dependency_of:
            notes.append(f"  {r.ref.repo_id}: needed by {r.dependency_of}")
        notes += [f"  {r.ref.repo_id}: {n}" for n in r.notes]
        notes += [f"  {r.ref.repo_id}: skipping unsafe entry {p!r}: {why}" for p, why in r.unsafe.items()]
    print(table(rows, {3, 4, 5}))
    for n in notes:
        print(n)
    print(f"total: {human(plan.bytes_to_fetch)} to fetch, {human(plan.bytes_present)} present; "
          f"free at {plan.root}: {human(plan.free_bytes)}")


def cmd_download(args: argparse.Namespace) -> int:
    if args.max_workers < 1:
        raise UsageError("--max-workers must be at least 1")
    settings = settings_for(args)
    catalog = catalog_for(settings)
    refs = refs_from(args, groups=True, catalog=catalog)
    if not refs:
        raise UsageError("nothing selected: use --models, --datasets, --model ID or --dataset ID")
    from core.plan import make_plan

    plan = make_plan(settings, refs, args.include, args.exclude, profile=args.profile, fp32=args.fp32,
                     catalog=catalog, dependencies=not args.no_deps, revision=args.revision)
    out: dict[str, Any] = plan_json(plan)
    if not args.json:
        print_plan(plan)
    failed = any(not r.ok for r in plan.repos)
    if args.run:
        code = run_download(args, settings, plan, out)
    else:
        code = EXIT_FAILED if failed else EXIT_OK
        if not args.json:
            print("dry run: nothing changed (add --run to download)")
    if args.json:
        emit_json(out)
    return code


def run_download(args: argparse.Namespace, settings: Settings, plan: Plan, out: dict[str, Any]) -> int:
    from core.download import Downloader
    from core.lock import LockHeld, root_lock
    from core.sizes import human

    if not plan.space_ok and not args.force:
        msg = (f"not enough free space at {plan.root}: need {human(plan.bytes_needed)} "
               f"({human(plan.bytes_to_fetch)} to fetch + {human(plan.min_free)} margin, MUSICGEN_MIN_FREE), "
               f"free {human(plan.free_bytes)}; free some space or use --force")
        print(f"musicgen-tui: {msg}", file=sys.stderr)
        out["error"] = msg
        return EXIT_FAILED
    printer = ProgressPrinter(quiet=args.json)
    try:
        with root_lock(settings.root):
            result = Downloader(settings, printer.on_event, max_workers=args.max_workers).run(plan)
    except LockHeld as e:
        print(f"musicgen-tui: {e}", file=sys.stderr)
        out["error"] = str(e)
        return EXIT_FAILED
    finally:
        printer.finish()  # the lines not yet written, also when interrupted
    out["result"] = {
        "ok": result.ok, "bytes_fetched": result.bytes_fetched,
        "repos": [{"repo_id": r.repo_id, "repo_type": r.repo_type, "done": r.done, "skipped": r.skipped,
                   "error": r.error, "failed": [{"path": p, "message": m} for p, m in r.failed]}
                  for r in result.repos],
    }
    if not args.json:
        for r in result.repos:
            state = "ok" if r.ok else "FAILED"
            print(f"{r.repo_id}: {state}: {r.done} fetched, {r.skipped} already complete, {len(r.failed)} failed"
                  + (f": {r.error}" if r.error else ""))
            for p, m in r.failed:
                print(f"  {p}: {m}")
        print(f"fetched {human(result.bytes_fetched)}")
    return EXIT_OK if result.ok else EXIT_FAILED


class ProgressPrinter:
    """Compact progress: a line per finished or failed file, and totals every few seconds (or a live status
    line on a terminal). Lines are gathered under a lock and written outside it, at most ten times a second:
    a write per file under the lock made the download threads queue on it."""

    FLUSH_EVERY = 0.1

    def __init__(self, quiet: bool = False, interval: float = 5.0) -> None:
        import threading
        import time

        from core.download import State
        from core.sizes import human

        self.quiet, self.interval = quiet, interval
        self.tty = sys.stderr.isatty()
        self.lock, self.out_lock = threading.Lock(), threading.Lock()
        self.done: dict[tuple[str, str], int] = {}
        self.total: dict[tuple[str, str], int] = {}
        self.finished = self.failed = self.base = 0
        self.started = self.last = self.flushed = time.monotonic()
        self.pending: list[str] = []
        self._time = time.monotonic
        self.State, self.human = State, human

    def on_event(self, e: Any) -> None:
        """Called for every event from the download threads: no imports or I/O here but the lines it prints."""
        State, human = self.State, self.human
        key = (e.repo_id, e.path)
        batch = None
        with self.lock:
            if key not in self.total:
                self.base += e.done
            self.done[key], self.total[key] = e.done, e.total
            if self.quiet:
                return
            line = None
            if e.state is State.DONE:
                self.finished += 1
                line = f"done    {e.repo_id}/{e.path} ({human(e.total)})"
            elif e.state is State.SKIPPED and e.message is None:
                self.finished += 1
            elif e.state is State.FAILED:
                self.failed += 1
                line = f"FAILED  {e.repo_id}/{e.path}: {e.message}"
            elif e.message:
                line = f"retry   {e.repo_id}/{e.path}: {e.message}"
            now = self._time()
            if line:
                self.pending.append(("\r\033[K" if self.tty else "") + line + "\n")
            if now - self.last >= (0.2 if self.tty else self.interval):
                self.last = now
                self.pending.append(self._status() + ("\r" if self.tty else "\n"))
            if self.pending and now - self.flushed >= self.FLUSH_EVERY:
                batch, self.pending, self.flushed = self.pending, [], now
        if batch:
            self._write(batch)

    def _status(self) -> str:
        human = self.human
        done, total = sum(self.done.values()), sum(self.total.values())
        rate = done / max(self._time() - self.started, 1e-6)
        return (f"[{human(done)} / {human(total)}, {human(int(rate))}/s] {self.finished} done, "
                f"{self.failed} failed, {len(self.total) - self.finished - self.failed} to go")

    def _write(self, batch: list[str]) -> None:
        with self.out_lock:
            sys.stderr.write("".join(batch))
            sys.stderr.flush()

    def finish(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if self.tty and not self.quiet:
            batch.append("\r\033[K")
        if batch:
            self._write(batch)


# --- inventory, checksums, verify ---------------------------------------------------------------
def cmd_inventory(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    from core import inventory

    repos = inventory.scan(settings.root)
    paths = inventory.write(settings.root, repos)
    if args.json:
        emit_json(json.loads(paths["combined"].read_text(encoding="utf-8")))
        return EXIT_OK
    from core.sizes import human

    rows = [["REPO", "TYPE", "FILES", "SIZE", "SNAPSHOT", "COMPLETE"]]
    for r in repos:
        rows.append([r.repo_id, r.repo_type, str(r.file_count), human(r.size_bytes),
                     (r.snapshot_id or "-")[:12], "yes" if r.complete else "no"])
    print(table(rows, {2, 3}) if repos else "no repos under models/ or datasets/ yet")
    for p in paths.values():
        print(f"wrote {shown(p)}")
    return EXIT_OK


def cmd_checksums(args: argparse.Namespace) -> int:
    from core.sizes import human, parse_size

    try:
        min_size = parse_size(args.min_size)
    except ValueError as e:
        raise UsageError(f"--min-size: {e}") from None
    settings = settings_for(args)
    from core.checksums import write_checksums

    written = write_checksums(settings.root, min_size)
    for w in written:
        print(f"wrote {shown(w.path)}: {w.entries} files, {human(w.bytes)}")
    if not written:
        print(f"no files over {args.min_size}: no checksum file written")
    return EXIT_OK


def cmd_catalog(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    catalog = catalog_for(settings)
    if args.json:
        emit_json([{"repo_id": e.repo_id, "repo_type": e.ref.repo_type, "group": e.group, "aliases": list(e.aliases),
                    "depends": list(e.depends), "licence": e.licence, "description": e.description,
                    "notes": e.notes, "source": e.source, "hub_copies": list(e.hub_copies), "origin": e.origin}
                   for e in catalog.entries])
        return EXIT_OK
    rows = [["REPO", "TYPE", "GROUP", "LICENCE", "DESCRIPTION"]]
    for e in catalog.entries:
        rows.append([e.repo_id, e.ref.repo_type, e.group, e.licence[:24], e.description])
    print(table(rows, set()))
    for e in catalog.entries:
        extra = [f"aliases {', '.join(e.aliases)}" if e.aliases else "",
                 f"needs {', '.join(e.depends)}" if e.depends else "",
                 "not on the public Hub: " + (e.elsewhere() or "") if e.source else "",
                 f"from {e.origin}" if e.origin != "default" else ""]
        if any(extra):
            print(f"  {e.repo_id}: " + "; ".join(x for x in extra if x))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    refs = refs_from(args, groups=False, catalog=catalog_for(settings)) or None
    from core.verify import verify, write_report

    result = verify(settings.root, refs, full=args.full)
    report = write_report(settings.root, result)
    if args.json:
        emit_json(result.report())
    else:
        for p in result.problems:
            print(f"{p.status:<8} {p.repo_id}: {p.path}" + (f" ({p.detail})" if p.detail else ""))
        c = result.counts
        print(f"{c['ok']} OK, {c['mismatch']} mismatch, {c['missing']} missing, {c['partial']} partial "
              f"({c['checked']} checked); report: {shown(report)}")
        if not result.ok:
            print("run `musicgen-tui download --run` with the same repos to fetch the damaged files again")
    return EXIT_OK if result.ok else EXIT_FAILED


# --- demo and TUI -------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.root, headless=args.headless or not sys.stdout.isatty())


def cmd_tui(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if not settings.root.is_dir():
        raise UsageError(f"the root {settings.root} is not a folder (create it, or pass --root DIR)")
    from tui.app import make_app

    app = make_app(settings)
    code = app.run()
    return int(code or 0)


if __name__ == "__main__":
    run()
