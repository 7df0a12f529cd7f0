"""The folder of a sharded index (spec/distributed.md R-DIST-2): a manifest ``SHARDS`` naming the
shared codec file and the shard folders, each an ordinary index coded with that codec."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lateint_ref.errors import IndexFormatError

MANIFEST = "SHARDS"
FORMAT = "lateint-shards/1"
HASH = "sha256-le64-mod"
CODEC = "codec.lti"


def shard_name(s: int) -> str:
    """R-DIST-2: the folder of shard ``s``."""
    return f"shard-{s:04d}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Layout:
    """A sharded index's manifest: where its codec and shards are."""

    path: str
    n_shards: int
    codec_sha256: str
    metadata: dict[str, Any]

    @property
    def codec(self) -> str:
        return os.path.join(self.path, CODEC)

    def shard(self, s: int) -> str:
        return os.path.join(self.path, shard_name(s))


def is_sharded(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a sharded index's manifest."""
    return (Path(path) / MANIFEST).is_file()


def write(path: str, n_shards: int, metadata: dict[str, Any]) -> Layout:
    """Commits the manifest (R-DIST-2): a temporary file, fsync, rename, folder sync."""
    digest = file_sha256(os.path.join(path, CODEC))
    body = {
        "codec": CODEC,
        "codec_sha256": digest,
        "format": FORMAT,
        "hash": HASH,
        "metadata": metadata,
        "n_shards": n_shards,
        "shards": [shard_name(s) for s in range(n_shards)],
    }
    tmp = os.path.join(path, MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(body, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(path, MANIFEST))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return Layout(path, n_shards, digest, metadata)


def read(path: str | os.PathLike[str]) -> Layout:
    """Reads and checks the manifest (R-DIST-2); any fault raises ``IndexFormatError``."""
    where = os.path.join(os.fspath(path), MANIFEST)
    try:
        with open(where, encoding="utf-8") as f:
            body = json.loads(f.read())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"R-DIST-2: {where}: {exc}") from exc
    ok = (
        isinstance(body, dict)
        and body.get("format") == FORMAT
        and body.get("hash") == HASH
        and body.get("codec") == CODEC
        and isinstance(body.get("n_shards"), int)
        and not isinstance(body.get("n_shards"), bool)
        and body["n_shards"] >= 1
        and body.get("shards") == [shard_name(s) for s in range(body["n_shards"])]
        and isinstance(body.get("codec_sha256"), str)
        and isinstance(body.get("metadata"), dict)
    )
    if not ok:
        raise IndexFormatError(f"R-DIST-2: {where}: not a {FORMAT} manifest")
    return Layout(os.fspath(path), body["n_shards"], body["codec_sha256"], body["metadata"])
