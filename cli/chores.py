"""A verify or an export from the command line, done by the root's one writer: its running service (asked, it
streams the progress), else this command under the root's lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.service.events import ExportDone, Verified
    from core.service.requests import Export, Verify
    from core.settings import Settings


class CannotRun(Exception):
    """The one line for a chore that could not run: the service unreachable or refusing, the root held."""


def chore(settings: Settings, request: Verify | Export) -> Verified | ExportDone:
    from core.local.lock import LockHeld
    from core.service.chores import do_export, do_verify, locally
    from core.service.client import ServiceError, connect, held_by
    from core.service.events import ExportDone, Verified
    from core.service.requests import Verify

    try:
        client = connect(settings.root)
        if client is not None:
            with client:
                for message in client.chore(request):
                    if isinstance(message, Verified | ExportDone):
                        return message
            raise ServiceError("the download service closed the connection")
    except ServiceError as e:
        raise CannotRun(str(e)) from None
    try:
        with locally(settings.root):
            if isinstance(request, Verify):
                return do_verify(settings.root, request)
            return do_export(settings.root, request, settings.checksum_min)
    except LockHeld as e:
        raise CannotRun(held_by(settings.root, e)) from None
