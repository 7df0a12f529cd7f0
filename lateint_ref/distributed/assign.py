"""Shard assignment (spec/distributed.md R-DIST-1): a document's shard is a function of its id
and the number of shards alone, so an addition goes to one shard and a deletion finds it without
a lookup table."""

from __future__ import annotations

import hashlib
from typing import Any

from lateint_ref import _checks
from lateint_ref.errors import InputError


def canonical_bytes(doc_id: Any) -> bytes:
    """R-DIST-1: ``0x00`` then the 8 bytes of an integer id (int64, two's complement,
    little-endian), or ``0x01`` then the UTF-8 bytes of a string id."""
    if isinstance(doc_id, str):
        return b"\x01" + doc_id.encode("utf-8")
    if _checks.is_int(doc_id) and -(2**63) <= int(doc_id) < 2**63:
        return b"\x00" + int(doc_id).to_bytes(8, "little", signed=True)
    raise InputError(f"R-DIST-1: an id is an int64 or a str, got {doc_id!r}")


def shard_of(doc_id: Any, n_shards: int) -> int:
    """R-DIST-1: the first 8 bytes of the SHA-256 of the id's canonical bytes, read as a
    little-endian unsigned integer, modulo ``n_shards``."""
    digest = hashlib.sha256(canonical_bytes(doc_id)).digest()
    return int.from_bytes(digest[:8], "little") % n_shards


def group(ids: list[Any], n_shards: int) -> list[list[int]]:
    """The item numbers of ``ids`` owned by each shard, in their order (R-DIST-1)."""
    out: list[list[int]] = [[] for _ in range(n_shards)]
    for i, x in enumerate(ids):
        out[shard_of(x, n_shards)].append(i)
    return out
