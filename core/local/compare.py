"""What a repo folder already holds of a listing: each file complete, partial (kept for resume), present but
unrecorded, or missing. Reads only, never writes, so a dry run changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..plan import PlannedFiles
from ..remote import RemoteFile
from . import metadata


def plan_files(local_dir: Path, files: Iterable[RemoteFile],
               on_progress: Callable[[int], object] | None = None) -> PlannedFiles:
    """Compare each listed file with what the folder holds (``on_progress`` hears the count every 2,000 files).
    A file whose folder and metadata folder do not exist is missing without asking: a first download of a
    100,000-file dataset makes one ``stat`` a folder, not four calls a file."""
    out = PlannedFiles()
    folders: dict[str, bool] = {}  # folder of the file (as listed) -> whether anything of it is on disk
    for i, f in enumerate(files):
        if on_progress is not None and i % 2000 == 0 and i:
            on_progress(i)
        folder = f.path.rpartition("/")[0]
        here = folders.get(folder)
        if here is None:
            paths = metadata.download_paths(local_dir, f.path)
            here = folders[folder] = paths.file_path.parent.is_dir() or paths.metadata_path.parent.is_dir()
        if not here:
            out.add(f, "fetch")
            continue
        paths = metadata.download_paths(local_dir, f.path)
        meta = metadata.read_metadata(paths)
        if metadata.is_fresh(paths, meta, f.etag, f.size):
            out.add(f, "skip", f.size)
            continue
        partial = metadata.partial_size(paths, f.etag, f.size)
        if 0 < partial <= f.size:
            out.add(f, "fetch", partial)
        elif meta is None and paths.file_path.is_file() and paths.file_path.stat().st_size == f.size:
            out.add(f, "check")
        else:
            out.add(f, "fetch")
    return out
