"""The coordinator's side of a sharded search (spec/distributed.md R-DIST-3): the global budgets
of one index, and the merges that keep the order of one index holding the collection in the
order of its documents' collection numbers (score first, then collection number, R-DIST-8)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lateint_ref.index import Hits


def default_budgets(k: int, n_centroids: int, n_docs: int) -> tuple[int, int, int]:
    """R-ISEARCH-3's defaults for the union's size: ``(nprobe, candidates, rescore)``."""
    nprobe = min(n_centroids, max(8, n_centroids // 512))
    candidates = max(512, 32 * k, math.ceil(8 * math.sqrt(n_docs)))
    return nprobe, candidates, max(128, 8 * k)


def cut(found: dict[int, tuple[np.ndarray, np.ndarray]], n: int) -> dict[int, int]:
    """R-DIST-3 for one query: of each shard's (collection numbers, scores), best first (ties:
    lower number), the global ``n`` best by (higher score, lower number), as the length of each
    shard's prefix among them: the ``n``-th best score found by a linear-time partition, each
    shard's scores above it, then of the ties at it the lowest numbers."""
    shards = sorted(found)
    if sum(len(found[s][1]) for s in shards) <= n:
        return {s: len(found[s][1]) for s in shards}
    every = np.concatenate([found[s][1] for s in shards])
    nth = -np.partition(-every, n - 1)[n - 1]
    above = {s: int(np.count_nonzero(found[s][1] > nth)) for s in shards}
    left = n - sum(above.values())
    tied = {s: found[s][0][found[s][1] == nth] for s in shards}
    numbers = np.concatenate([tied[s] for s in shards])
    last = np.partition(numbers, left - 1)[left - 1] if left else -1
    return {s: above[s] + int(np.count_nonzero(tied[s] <= last)) for s in shards}


def best_hits(found: dict[int, tuple[np.ndarray, np.ndarray, list[Any]]], k: int) -> Hits:
    """R-DIST-3: the ``k`` best of the shards' exact hits (collection numbers, scores, ids),
    best first (ties: lower collection number)."""
    rows = [
        (-float(score), number, x, score)
        for numbers, scores, ids in found.values()
        for number, score, x in zip(numbers.tolist(), scores.tolist(), ids, strict=True)
    ]
    rows.sort(key=lambda r: r[:2])
    best = rows[:k]
    return Hits([r[2] for r in best], np.asarray([r[3] for r in best], dtype=np.float32))
