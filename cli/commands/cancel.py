"""``musicgen-tui cancel``: cancel downloads of this root's service (all, a repo's, or one file's); it runs on."""

from __future__ import annotations

import argparse

from ..common import EXIT_CANNOT_RUN, EXIT_OK, UsageError, add_repo_ids, refs_from, settings_for
from ..output import Output

HELP = "cancel downloads of this root's service: all, one repo's or one file (partial files are kept)"
EXITS = "exit status: 0 cancelled (or nothing to cancel); 2 could not run (the service unreachable)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_repo_ids(p, " whose downloads to cancel")
    p.add_argument("--file", metavar="PATH", help="with one --model or --dataset: only this file of it")


def run(args: argparse.Namespace, out: Output) -> int:
    from core.service.client import ServiceError, connect
    from core.service.events import Done
    from core.service.requests import Cancel

    refs = refs_from(args, None)
    if args.file is not None and len(refs) != 1:
        raise UsageError("--file needs exactly one --model or --dataset")
    requests = [Cancel(repo=r, path=args.file) for r in refs] or [Cancel()]
    settings = settings_for(args)
    try:
        client = connect(settings.root)
        if client is None:
            out.say("no download service runs on this root")
            return EXIT_OK
        with client:
            replies = [client.request(request) for request in requests]
        reached = {job for reply in replies if isinstance(reply, Done) for job in reply.jobs}
    except ServiceError as e:
        out.error(str(e))
        return EXIT_CANNOT_RUN
    what = f"{refs[0].repo_id}/{args.file}" if args.file else ", ".join(r.repo_id for r in refs) or "everything"
    if not reached:
        out.say(f"nothing to cancel: the service has no download queued or running ({what})")
        return EXIT_OK
    out.say(f"cancelled {what} in {len(reached)} job(s): partial files are kept; the service runs on")
    return EXIT_OK
