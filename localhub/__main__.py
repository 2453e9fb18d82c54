"""``python -m localhub --store DIR [options]``: serve a folder of repos until interrupted."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from core.sizes import parse_size

from .faults import Fault
from .repos import load_store
from .server import LocalHub


def main(argv: list[str] | None = None) -> None:
    """``python -m localhub --store DIR [--port N]``: serve a folder of repos until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m localhub", description=main.__doc__)
    parser.add_argument("--store", required=True, type=Path, help="folder with models/<org>/<name>/ and datasets/…")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--standins", action="store_true", help="serve the catalog's stand-ins as well")
    parser.add_argument("--slow", type=float, metavar="SECONDS", help="pause this long after every 4 KiB of a body")
    parser.add_argument("--limit", metavar="SIZE", help="cap each connection's body at SIZE a second, like 8M")
    parser.add_argument("--plain", action="store_true",
                        help="serve bodies from resolve itself: no CDN redirect, no gzip (quicker, less like the Hub)")
    parser.add_argument("--prefix", default="", help="serve under this path, as some mirrors do")
    parser.add_argument("--link-host", help="write this host into the tree's next-page links, as hf-mirror does")
    args = parser.parse_args(argv)
    repos = load_store(args.store)
    if args.standins:
        from .standins import catalog_standins

        repos += catalog_standins()
    for r in repos:
        r.commit  # noqa: B018 - hash everything before announcing the address
    hub = LocalHub(repos, port=args.port, realistic=not args.plain, prefix=args.prefix,
                   link_host=args.link_host, conn_limit=float(parse_size(args.limit)) if args.limit else None).start()
    if args.slow:
        hub.inject(Fault("slow", "*", times=1 << 62, delay=args.slow))
    print(hub.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
