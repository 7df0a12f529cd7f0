"""Retrieval quality as trec_eval computes it: nDCG@k (``ndcg_cut.k``) and Recall@k
(``recall.k``), averaged over queries. Self-contained (no pytrec_eval); checked against
pytrec_eval in the peers venv when it is present (``python bench/metrics.py --check``).

* ``qrels``: ``{query id: {document id: relevance}}``; a relevance > 0 means relevant and is the
  document's gain (graded).
* ``run``: ``{query id: [document id, ...]}``, best first (a ranking, not scores: ties must be
  broken by the caller).

Definitions (trec_eval 9):

* DCG@k = sum over ranks r = 1..k of gain(doc at r) / log2(r + 1); the ideal DCG@k is the same sum
  over the query's judged gains sorted descending; nDCG@k = DCG@k / ideal DCG@k.
* Recall@k = |relevant documents in the top k| / |relevant documents|.
* A query is averaged when it appears in both the run and the qrels (trec_eval without ``-c``);
  a query whose judgments are all non-relevant has no ideal gain and counts as 0 in both
  measures, as in trec_eval. Every SciFact test query has a relevant document.
"""

from __future__ import annotations

import math


def dcg(gains: list[float], k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains (rank r weighted 1 / log2(r + 1))."""
    return sum(g / math.log2(r + 2) for r, g in enumerate(gains[:k]) if g > 0)


def ndcg_query(ranking: list[str], judged: dict[str, int], k: int) -> float:
    """nDCG@k of one ranking against one query's judgments."""
    ideal = dcg(sorted((float(r) for r in judged.values() if r > 0), reverse=True), k)
    if ideal == 0.0:
        return 0.0
    return dcg([float(max(judged.get(d, 0), 0)) for d in ranking[:k]], k) / ideal


def recall_query(ranking: list[str], judged: dict[str, int], k: int) -> float:
    """Recall@k of one ranking: the share of the query's relevant documents in its top ``k``."""
    relevant = {d for d, r in judged.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def _evaluated(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> list[str]:
    """The query ids trec_eval averages over: in both the run and the qrels."""
    queries = [q for q in run if q in qrels]
    if not queries:
        raise ValueError("no query of the run is in the qrels")
    return queries


def ndcg(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 10) -> float:
    """Mean nDCG@k over the evaluated queries (trec_eval ``ndcg_cut.k``)."""
    queries = _evaluated(run, qrels)
    return sum(ndcg_query(run[q], qrels[q], k) for q in queries) / len(queries)


def recall(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 100) -> float:
    """Mean Recall@k over the evaluated queries (trec_eval ``recall.k``)."""
    queries = _evaluated(run, qrels)
    return sum(recall_query(run[q], qrels[q], k) for q in queries) / len(queries)


def _check_against_pytrec_eval() -> None:
    """Compares with pytrec_eval on random graded runs (run in a venv that has pytrec_eval)."""
    import random

    import pytrec_eval

    rng = random.Random(0)
    qrels = {
        f"q{i}": {f"d{j}": rng.choice([0, 0, 1, 2, 3]) for j in rng.sample(range(300), 12)}
        for i in range(200)
    }
    qrels["none"] = {"d1": 0, "d2": 0}  # judged, nothing relevant
    run = {q: [f"d{j}" for j in rng.sample(range(300), 150)] for q in qrels}
    run["unjudged"] = ["d1"]  # not in the qrels: ignored
    scored = {q: {d: float(len(ids) - r) for r, d in enumerate(ids)} for q, ids in run.items()}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    per_query = ev.evaluate(scored)
    ref_ndcg = sum(v["ndcg_cut_10"] for v in per_query.values()) / len(per_query)
    ref_recall = sum(v["recall_100"] for v in per_query.values()) / len(per_query)
    ours = ndcg(run, qrels, 10), recall(run, qrels, 100)
    n_ours = len(_evaluated(run, qrels))
    print(
        f"pytrec_eval: {len(per_query)} queries, nDCG@10 {ref_ndcg:.12f}, R@100 {ref_recall:.12f}"
    )
    print(f"ours:        {n_ours} queries, nDCG@10 {ours[0]:.12f}, R@100 {ours[1]:.12f}")
    assert abs(ours[0] - ref_ndcg) < 1e-12, "nDCG differs from pytrec_eval"
    assert abs(ours[1] - ref_recall) < 1e-12, "Recall differs from pytrec_eval"
    print("metrics agree with pytrec_eval")


if __name__ == "__main__":
    _check_against_pytrec_eval()
