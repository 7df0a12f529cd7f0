"""Model fingerprints (spec/retriever.md R-RET-9): a SHA-256 over the files a model folder's
encoder is built from, so that an index can check that a model moved to another folder is the
one it was built with."""

from __future__ import annotations

import hashlib
import os
import struct

from lateint_ref.encoding.folder import ModelFolder

_CHUNK = 1 << 20  # bytes hashed at a time: weights are streamed, never held whole


def fingerprint(folder: ModelFolder) -> str:
    """The lowercase hex SHA-256 of ``folder.files`` (R-RET-9): for each file, in sorted order of
    its path relative to the folder, that path (UTF-8), a NUL byte, its size (8 bytes,
    little-endian) and its bytes."""
    digest = hashlib.sha256()
    for name in folder.files:
        path = folder.path / name
        digest.update(name.encode("utf-8") + b"\0")
        with path.open("rb") as f:
            digest.update(struct.pack("<Q", os.fstat(f.fileno()).st_size))
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
