"""The coordinator's side of a sharded search (spec/distributed.md R-DIST-3): the global budgets
of one index, and the merges that keep the global order of one index whose documents are the
shards' documents, shard after shard (score first, then shard, then position in the shard)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lateint_ref.index import Hits

# Per shard, per query: (probe scores, code scores, positions) of stage 1.
Stage1 = tuple[np.ndarray, np.ndarray, np.ndarray]


def default_budgets(k: int, n_centroids: int, n_docs: int) -> tuple[int, int, int]:
    """R-ISEARCH-3's defaults for the union's size: ``(nprobe, candidates, rescore)``."""
    nprobe = min(n_centroids, max(8, n_centroids // 512))
    candidates = max(512, 32 * k, math.ceil(8 * math.sqrt(n_docs)))
    return nprobe, candidates, max(128, 8 * k)


def pick_rescored(found: dict[int, Stage1], candidates: int, rescore: int) -> dict[int, np.ndarray]:
    """R-DIST-3 for one query: of the shards' candidates, the global ``candidates`` best by
    probe score, then of those the ``rescore`` best by code score (ties: lower shard, then lower
    position); returns each shard's positions among them."""
    parts = [(s, p, a, pos) for s, (p, a, pos) in found.items() if len(pos)]
    if not parts:
        return {}
    shard = np.concatenate([np.full(len(pos), s, np.int64) for s, _, _, pos in parts])
    probe = np.concatenate([p for _, p, _, _ in parts])
    code = np.concatenate([a for _, _, a, _ in parts])
    pos = np.concatenate([x for _, _, _, x in parts])
    kept = _best(probe, shard, pos, candidates)
    best = kept[_best(code[kept], shard[kept], pos[kept], rescore)]
    return {int(s): np.sort(pos[best[shard[best] == s]]) for s in np.unique(shard[best])}


def _best(score: np.ndarray, shard: np.ndarray, pos: np.ndarray, n: int) -> np.ndarray:
    """The indices of the ``n`` best by (higher ``score``, lower shard, lower position), best
    first: a linear-time partition keeps the items at or above the ``n``-th score (its ties
    included), and only those are sorted."""
    neg = -score
    if len(neg) > n:
        kth = np.partition(neg, n - 1)[n - 1]
        keep = np.flatnonzero(neg <= kth)
    else:
        keep = np.arange(len(neg))
    return keep[np.lexsort((pos[keep], shard[keep], neg[keep]))[:n]]


def best_hits(found: dict[int, tuple[np.ndarray, np.ndarray, list[Any]]], k: int) -> Hits:
    """R-DIST-3: the ``k`` best of the shards' exact hits, best first (ties: lower shard, then
    lower position)."""
    rows = [
        (-float(score), s, p, x, score)
        for s, (pos, scores, ids) in found.items()
        for p, score, x in zip(pos.tolist(), scores.tolist(), ids, strict=True)
    ]
    rows.sort(key=lambda r: r[:3])
    best = rows[:k]
    return Hits([r[3] for r in best], np.asarray([r[4] for r in best], dtype=np.float32))
