"""The one atomic writer: a file appears complete, with its name, or not at all, and survives a
crash once written: temporary file in the same folder, write, fsync, rename, fsync of the folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def sync_dir(folder: str | os.PathLike[str]) -> None:
    """Makes the folder's entries (a rename, a new file) durable."""
    fd = os.open(os.fspath(folder), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically and durably; on any failure (Ctrl-C included) the
    temporary file is removed and ``path`` keeps what it held before."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """``write_atomic`` of UTF-8 text, newlines as written."""
    write_atomic(path, text.encode("utf-8"))


def replace_durably(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Renames ``src`` to ``dst`` (atomically, same folder or file system) and syncs the folders."""
    os.replace(src, dst)
    sync_dir(Path(dst).parent)
    if Path(src).parent.resolve() != Path(dst).parent.resolve():
        sync_dir(Path(src).parent)
