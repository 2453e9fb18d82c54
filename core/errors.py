"""One-line messages for errors that are not the Hub's (the disk, the rest); never showing the token."""

from __future__ import annotations

import errno

TOKEN_HELP = "put HF_TOKEN=<your token> in .env or run `hf auth login`"


def cannot_write(exc: BaseException) -> bool:
    """Whether ``exc`` says a folder cannot be written at all: a read-only file system or a root of another user
    (what a command that only reads may go on without)."""
    return isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, or its type's name when it has none."""
    text = str(exc)
    return text.splitlines()[0] if text else ""


def one_line(exc: BaseException, *, token: str | None = None) -> str:
    """A one-line message for a disk or other error; ``core.hub.errors.describe`` covers the Hub's."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        msg = f"disk full at {exc.filename or 'the target'}: free some space, then run again (partial files are kept)"
    elif isinstance(exc, OSError):
        msg = first_line(exc) or type(exc).__name__
    else:
        msg = f"{type(exc).__name__}: {first_line(exc)}".rstrip(": ")
    return scrub(msg, token)


def scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
