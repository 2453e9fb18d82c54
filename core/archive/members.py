"""What an archive member may be: a file or a folder at a safe path below the tree, or a link that stays inside
it. Anything else (an absolute path, ``..``, a device, a FIFO, a link leading out) refuses the archive, naming
the member."""

from __future__ import annotations

import posixpath

from ..safety import printable, unsafe_reason


class ArchiveError(Exception):
    """An archive that cannot be extracted as it is: one line naming the archive and, where it is one member's
    fault, the member."""


def member_path(archive: str, name: str) -> str:
    """The member's path below the tree (a leading ``./`` dropped, a folder's trailing ``/`` too; ``""`` for the
    archive's own top folder)."""
    path = name
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("/") if path.endswith("/") and path != "/" else path
    if path in ("", ".") and name not in ("", "/"):
        return ""  # the archive's own top folder ("./"): the tree itself
    reason = "an absolute path" if name.startswith("/") else unsafe_reason(path)
    if reason is not None:
        raise ArchiveError(f"{archive}: refusing member {printable(name)!r}: {reason}")
    return path


def link_target(archive: str, path: str, target: str) -> str:
    """A symbolic link's target, when it stays inside the tree (relative, never climbing out); else refused."""
    if not target or target.startswith("/") or "\0" in target:
        raise ArchiveError(f"{archive}: refusing member {printable(path)!r}: a link to {printable(target)!r}, "
                           "outside the archive's folder")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        raise ArchiveError(f"{archive}: refusing member {printable(path)!r}: a link to {printable(target)!r}, "
                           "outside the archive's folder")
    return target


def special(archive: str, path: str, kind: str) -> ArchiveError:
    return ArchiveError(f"{archive}: refusing member {printable(path)!r}: a {kind}, not a file or a folder")


def hardlink_target(archive: str, path: str, target: str) -> str:
    """A hard link's target: another member's path (checked like one), never a file outside."""
    try:
        return member_path(archive, target)
    except ArchiveError:
        raise ArchiveError(f"{archive}: refusing member {printable(path)!r}: a hard link to {printable(target)!r}, "
                           "outside the archive's folder") from None
