"""What a repo folder already holds of a listing: each file complete, partial (kept for resume), present but
unrecorded, or missing. Reads only, never writes, so a dry run changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..plan import FilePlan
from ..remote import RemoteFile
from . import metadata


def plan_files(local_dir: Path, files: Sequence[RemoteFile]) -> list[FilePlan]:
    """Compare each listed file with what the folder holds."""
    out = []
    for f in files:
        paths = metadata.download_paths(local_dir, f.path)
        meta = metadata.read_metadata(paths)
        if metadata.is_fresh(paths, meta, f.etag, f.size):
            out.append(FilePlan(f, "skip", f.size))
            continue
        partial = metadata.partial_size(paths, f.etag)
        if 0 < partial <= f.size:
            out.append(FilePlan(f, "fetch", partial))
        elif meta is None and paths.file_path.is_file() and paths.file_path.stat().st_size == f.size:
            out.append(FilePlan(f, "check", 0))
        else:
            out.append(FilePlan(f, "fetch", 0))
    return out
