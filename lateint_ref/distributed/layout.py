"""The folder of a sharded index (spec/distributed.md R-DIST-2): a manifest ``SHARDS`` naming the
shared codec file and the shard folders, each an ordinary index coded with that codec, and per
shard commit the collection numbers of its documents (``order/``, R-DIST-8)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref._files import write_atomic
from lateint_ref.errors import IndexFormatError

MANIFEST = "SHARDS"
FORMAT = "lateint-shards/2"
ORDER = "order"
ORDER_MAGIC = b"LTIORDER"
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


def order_file(root: str, s: int, generation: int) -> str:
    """R-DIST-8: the file of shard ``s``'s collection numbers at its commit ``generation``."""
    return os.path.join(root, ORDER, f"{shard_name(s)}-{generation:010d}")


def write_order(root: str, s: int, generation: int, numbers: np.ndarray) -> None:
    """Writes shard ``s``'s collection numbers for its commit ``generation`` (R-DIST-8), before
    that commit: magic, generation and count (u64), the numbers (u64), the SHA-256 of all that;
    then removes the shard's files of generations before ``generation - 1``."""
    numbers = np.asarray(numbers, dtype="<u8")
    body = ORDER_MAGIC + struct.pack("<QQ", generation, len(numbers)) + numbers.tobytes()
    os.makedirs(os.path.join(root, ORDER), exist_ok=True)
    write_atomic(order_file(root, s, generation), body + hashlib.sha256(body).digest())
    name = re.compile(re.escape(shard_name(s)) + r"-(\d{10})$")
    for entry in os.listdir(os.path.join(root, ORDER)):
        m = name.match(entry)
        if m and int(m.group(1)) < generation - 1:
            os.remove(os.path.join(root, ORDER, entry))


def read_order(root: str, s: int, generation: int, n_docs: int) -> np.ndarray:
    """Shard ``s``'s collection numbers at its commit ``generation`` (R-DIST-8), int64, one per
    stored document, increasing; ``IndexFormatError`` for a missing or damaged file."""
    where = order_file(root, s, generation)
    try:
        with open(where, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise IndexFormatError(f"R-DIST-8: {where}: {exc}") from exc
    body, digest = raw[:-32], raw[-32:]
    ok = len(raw) >= 56 and body[:8] == ORDER_MAGIC and hashlib.sha256(body).digest() == digest
    if ok:
        gen, count = struct.unpack("<QQ", body[8:24])
        ok = gen == generation and count == n_docs and len(body) == 24 + 8 * count
    if not ok:
        raise IndexFormatError(
            f"R-DIST-8: {where}: not the collection numbers of {n_docs} documents at "
            f"generation {generation}"
        )
    numbers = np.frombuffer(body, dtype="<u8", offset=24).astype(np.int64)
    if len(numbers) and (numbers[0] < 0 or np.any(np.diff(numbers) <= 0)):
        raise IndexFormatError(f"R-DIST-8: {where}: the numbers do not increase")
    return numbers


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
    write_atomic(os.path.join(path, MANIFEST), (json.dumps(body, sort_keys=True) + "\n").encode())
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
