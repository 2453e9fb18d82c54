"""A verify, an export, a remove or a prune from the command line, done by the root's one writer: its running
service (asked, it streams the progress), else this command under the root's lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from core.service.events import Cleaned, ExportDone, Verified
    from core.service.requests import Export, Prune, Remove, Verify
    from core.settings import Settings


class CannotRun(Exception):
    """The one line for a chore that could not run: the service unreachable or refusing, the root held."""


@overload
def chore(settings: Settings, request: Verify) -> Verified: ...
@overload
def chore(settings: Settings, request: Export) -> ExportDone: ...
@overload
def chore(settings: Settings, request: Remove | Prune) -> Cleaned: ...


def chore(settings: Settings, request: Verify | Export | Remove | Prune) -> Verified | ExportDone | Cleaned:
    """The chore's end, of the type its request asks for (a service that answers with another is refused)."""
    from core.local.lock import LockHeld
    from core.service.chores import do_clean, do_export, do_verify, locally
    from core.service.client import ServiceError, connect, held_by
    from core.service.events import Cleaned, ExportDone, Verified
    from core.service.requests import Export, Prune, Remove, Verify

    ends: dict[type, type] = {Verify: Verified, Export: ExportDone, Remove: Cleaned, Prune: Cleaned}
    try:
        client = connect(settings.root)
        if client is not None:
            with client:
                for message in client.chore(request):
                    if isinstance(message, Verified | ExportDone | Cleaned):
                        if not isinstance(message, ends[type(request)]):
                            raise ServiceError("the download service answered out of turn")
                        return message
            raise ServiceError("the download service closed the connection")
    except ServiceError as e:
        raise CannotRun(str(e)) from None
    try:
        with locally(settings.root):
            if isinstance(request, Verify):
                return do_verify(settings.root, request)
            if isinstance(request, Export):
                return do_export(settings.root, request, settings.checksum_min)
            return do_clean(settings.root, request, settings.catalog_file)
    except LockHeld as e:
        raise CannotRun(held_by(settings.root, e)) from None
