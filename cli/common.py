"""What every command shares: exit codes, the usage error, and turning arguments into settings, the catalog
and repo references. Imports ``core`` only when called, so headless commands start fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.catalog import Catalog
    from core.repos import RepoRef
    from core.settings import Settings

# 1: the command ran and found problems (a file failed, a repo refused, a damaged file); 2: it could not run (bad
# arguments or settings, the root held or not writable, no disk space, the service unreachable, an error of ours).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CANNOT_RUN = EXIT_USAGE
EXIT_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away


class UsageError(Exception):
    """Bad arguments or settings: one line on stderr, exit code 2."""


def add_root(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """``--root DIR``; ``inherited`` for a command's own copy, which leaves a ``--root`` given before the command
    in place (``musicgen-tui --root DIR status`` and ``musicgen-tui status --root DIR`` mean the same)."""
    parser.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS if inherited else None,
                        help="workspace root (default: $MUSICGEN_ROOT or the current folder)")


def add_repo_ids(parser: argparse.ArgumentParser, what: str = "") -> None:
    """``--model ID`` and ``--dataset ID``, each repeatable."""
    parser.add_argument("--model", action="append", default=[], metavar="ID", help=f"a model repo{what}")
    parser.add_argument("--dataset", action="append", default=[], metavar="ID", help=f"a dataset repo{what}")


def settings_for(args: argparse.Namespace) -> Settings:
    from core.settings import load_settings

    try:
        settings = load_settings(args.root)
    except ValueError as e:
        raise UsageError(f"bad setting: {e}") from None
    root_ready(settings.root)
    return settings


def root_ready(root: Path) -> None:
    """The workspace root as a folder: one that does not exist yet is created, and said so; a file in its place
    is a usage error; one that other users may write to gets its warning once."""
    from core.local.safeio import shared_root_warning

    if root.exists() and not root.is_dir():
        raise UsageError(f"the workspace root {root} is not a folder: give --root (or MUSICGEN_ROOT) a folder")
    if not root.exists():
        try:
            root.mkdir(parents=True)
        except OSError as e:
            raise UsageError(f"cannot create the workspace root {root}: {e.strerror or e}") from None
        print(f"musicgen-tui: created the workspace root {root}", file=sys.stderr)
    if warning := shared_root_warning(root):
        print(f"musicgen-tui: {warning}", file=sys.stderr)


def catalog_for(settings: Settings) -> Catalog:
    from core.catalog import CatalogError, load_catalog

    try:
        return load_catalog(settings.root)
    except CatalogError as e:
        raise UsageError(str(e)) from None


def refs_from(args: argparse.Namespace, catalog: Catalog | None, groups: bool = False) -> list[RepoRef]:
    """The repos named by ``--model`` / ``--dataset`` (and, with ``groups``, ``--models`` / ``--datasets``), in
    the catalog's spelling (as given without a catalog), each once."""
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
    return list(dict.fromkeys(catalog.canonical(r) if catalog is not None else r for r in refs))
