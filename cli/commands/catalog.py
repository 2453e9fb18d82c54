"""``musicgen-tui catalog``: the catalog's entries, with the root's catalog.toml merged in."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..common import EXIT_OK, catalog_for, settings_for
from ..output import Output, table

if TYPE_CHECKING:
    from core.catalog import Catalog

HELP = "list the catalog (with the root's catalog.toml)"
EXITS = "exit status: 0 listed; 2 could not run (bad arguments or settings, a damaged catalog.toml)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the entries as JSON on stdout")


def run(args: argparse.Namespace, out: Output) -> int:
    out.show(CatalogView(catalog_for(settings_for(args))))
    return EXIT_OK


class CatalogView:
    """The catalog's entries: a table and notes, or a JSON list."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def data(self) -> Any:
        return [{"repo_id": e.repo_id, "repo_type": e.ref.repo_type, "group": e.group, "aliases": list(e.aliases),
                 "depends": list(e.depends), "licence": e.licence, "description": e.description, "notes": e.notes,
                 "source": e.source, "hub_copies": list(e.hub_copies), "origin": e.origin}
                for e in self.catalog.entries]

    def text(self) -> Iterator[str]:
        rows = [["REPO", "TYPE", "GROUP", "LICENCE", "DESCRIPTION"]]
        for e in self.catalog.entries:
            rows.append([e.repo_id, e.ref.repo_type, e.group, e.licence[:24], e.description])
        yield from table(rows)
        for e in self.catalog.entries:
            extra = [f"aliases {', '.join(e.aliases)}" if e.aliases else "",
                     f"needs {', '.join(e.depends)}" if e.depends else "",
                     "not on the public Hub: " + (e.elsewhere() or "") if e.source else "",
                     f"from {e.origin}" if e.origin != "default" else ""]
            if any(extra):
                yield f"  {e.repo_id}: " + "; ".join(x for x in extra if x)
