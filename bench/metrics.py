"""Retrieval quality for the benchmarks: a thin wrapper over ``lateint_ref.evaluation`` (trec_eval's
definitions, checked against pytrec_eval in tests/test_evaluation.py).

* ``qrels``: ``{query id: {document id: relevance}}``; a relevance >= 1 is relevant and is the
  document's gain (graded).
* ``run``: ``{query id: [document id, ...]}``, best first (a ranking: the caller broke the ties).
  It is given to the library with scores ``n, n - 1, ..., 1`` so the order is kept.
* A query is averaged when it appears in both the run and the qrels (trec_eval without ``-c``).
"""

from __future__ import annotations

from lateint_ref import evaluation


def _scored(run: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    return {q: {d: float(len(ids) - r) for r, d in enumerate(ids)} for q, ids in run.items()}


def ndcg(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 10) -> float:
    """Mean nDCG@k over the evaluated queries (trec_eval ``ndcg_cut.k``)."""
    return evaluation.ndcg(_scored(run), qrels, k)


def recall(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 100) -> float:
    """Mean Recall@k over the evaluated queries (trec_eval ``recall.k``)."""
    return evaluation.recall(_scored(run), qrels, k)
