"""Retrieval quality as trec_eval computes it (spec/evaluation.md), and TREC run and qrels files.

* ``run``: ``{query id: ranking}`` where a ranking is a mapping ``{doc id: score}``, a sequence
  of ``(doc id, score)`` pairs, or an object with parallel ``ids`` and ``scores`` (an index's
  ``Hits``). The order given is ignored: documents are ranked by score descending, ties broken by
  doc id descending, as trec_eval does; like trec_eval, scores are compared in float32 (R-EVAL-2).
* ``qrels``: ``{query id: {doc id: relevance}}``, integer relevance; ``rel >= 1`` is relevant and
  is the document's gain in nDCG (R-EVAL-3).
* Ids are ``str`` (an ``int`` is read as its decimal text).

Metrics (trec_eval measure): ``ndcg@k`` (``ndcg_cut.k``), ``recall@k`` (``recall.k``), ``map@k``
(``map_cut.k``), ``mrr@k`` (``recip_rank`` of the top ``k``). The mean is over the queries in
both the run and the qrels (trec_eval and pytrec_eval's default); ``missing="zero"`` also counts
each judged query absent from the run as 0 (``trec_eval -c``).

TREC run and qrels files are read and written by ``lateint_ref.evaluation.trec``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from lateint_ref._checks import integer, is_int
from lateint_ref.errors import InputError

METRICS = ("ndcg", "recall", "mrr", "map")
DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
MISSING = ("skip", "zero")

Run = Mapping[Any, Any]
Qrels = Mapping[Any, Mapping[Any, int]]


# ----------------------------------------------------------------------------- inputs


def as_id(x: Any, what: str) -> str:
    """A query or document id as text (R-EVAL-1)."""
    if isinstance(x, str):
        if not x:
            raise InputError(f"R-EVAL-1: {what} id must not be empty")
        return x
    if is_int(x):
        return str(int(x))
    raise InputError(f"R-EVAL-1: {what} id must be a str or an int, got {x!r}")


def _score(x: Any, qid: str, did: str) -> float:
    """A finite real score (R-EVAL-1)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise InputError(f"R-EVAL-1: query {qid!r} doc {did!r}: score must be a number, got {x!r}")
    value = float(x)
    if not math.isfinite(value):
        raise InputError(f"R-EVAL-1: query {qid!r} doc {did!r}: score must be finite, got {x!r}")
    return value


def _pairs(ranking: Any, qid: str) -> Iterable[tuple[Any, Any]]:
    """The ``(doc id, score)`` pairs of one query's ranking, in any of the accepted forms."""
    if isinstance(ranking, Mapping):
        return ranking.items()
    if hasattr(ranking, "ids") and hasattr(ranking, "scores"):
        ids, scores = list(ranking.ids), list(ranking.scores)
        if len(ids) != len(scores):
            raise InputError(f"R-EVAL-1: query {qid!r}: {len(ids)} ids for {len(scores)} scores")
        return zip(ids, scores, strict=True)
    if isinstance(ranking, (str, bytes)) or not isinstance(ranking, Iterable):
        raise InputError(
            f"R-EVAL-1: query {qid!r}: a ranking must be a mapping doc id -> score or a "
            f"sequence of (doc id, score) pairs, got {type(ranking).__name__}"
        )
    pairs = []
    for item in ranking:
        if isinstance(item, (str, bytes)) or not isinstance(item, Iterable):
            raise InputError(
                f"R-EVAL-1: query {qid!r}: expected a (doc id, score) pair, got {item!r}"
            )
        pair = tuple(item)
        if len(pair) != 2:
            raise InputError(
                f"R-EVAL-1: query {qid!r}: expected a (doc id, score) pair, got {item!r}"
            )
        pairs.append(pair)
    return pairs


def ranked(ranking: Any, qid: str = "?") -> list[tuple[str, float]]:
    """One query's ranking as ``[(doc id, score), ...]`` in trec_eval's order: score (rounded to
    float32) descending, then doc id descending (R-EVAL-2). A doc id given twice raises
    ``InputError``. Scores are returned as given (float64)."""
    items = []
    seen: set[str] = set()
    for doc, score in _pairs(ranking, qid):
        did = as_id(doc, "document")
        if did in seen:
            raise InputError(f"R-EVAL-2: query {qid!r}: document {did!r} is ranked twice")
        seen.add(did)
        items.append((did, _score(score, qid, did)))
    # R-EVAL-2: trec_eval keeps scores as C floats, so ties are decided in float32; doc ids in
    # code-point order, which is the byte order strcmp sees in UTF-8.
    with np.errstate(over="ignore"):
        keys = np.array([s for _, s in items], dtype=np.float64).astype(np.float32).tolist()
    order = sorted(range(len(items)), key=lambda i: (keys[i], items[i][0]), reverse=True)
    return [items[i] for i in order]


def run_items(run: Run) -> dict[str, list[tuple[str, float]]]:
    if not isinstance(run, Mapping):
        raise InputError(f"R-EVAL-1: run must be a mapping query id -> ranking, got {run!r}")
    out: dict[str, list[tuple[str, float]]] = {}
    for q, ranking in run.items():
        qid = as_id(q, "query")
        if qid in out:
            raise InputError(f"R-EVAL-1: query {qid!r} appears twice in the run")
        out[qid] = ranked(ranking, qid)
    return out


def _qrels(qrels: Qrels) -> dict[str, dict[str, int]]:
    if not isinstance(qrels, Mapping):
        raise InputError(
            f"R-EVAL-1: qrels must be a mapping query id -> {{doc id: rel}}, got {qrels!r}"
        )
    out: dict[str, dict[str, int]] = {}
    for q, judged in qrels.items():
        qid = as_id(q, "query")
        if not isinstance(judged, Mapping):
            raise InputError(f"R-EVAL-1: qrels of query {qid!r} must be a mapping doc id -> rel")
        rels: dict[str, int] = {}
        for d, rel in judged.items():
            did = as_id(d, "document")
            if not is_int(rel):
                raise InputError(
                    f"R-EVAL-1: query {qid!r} doc {did!r}: relevance must be an integer, "
                    f"got {rel!r}"
                )
            rels[did] = int(rel)
        out[qid] = rels
    return out


def _cutoff(k: Any) -> int:
    return integer(k, "the cutoff k", "R-EVAL-9", 1)


def _metric(name: Any) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)`` (R-EVAL-9)."""
    if isinstance(name, str) and name.count("@") == 1:
        base, _, k = name.partition("@")
        if base in METRICS and k.isascii() and k.isdigit() and int(k) >= 1:
            return base, int(k)
    raise InputError(
        f"R-EVAL-9: unknown metric {name!r}: expected <name>@<k> with name in "
        f"{', '.join(METRICS)} and k an integer >= 1"
    )


# ----------------------------------------------------------------------------- one query


def _query_value(metric: str, k: int, docs: list[str], judged: dict[str, int]) -> float:
    """One metric of one query: ``docs`` ranked best first, ``judged`` its relevance levels."""
    top = docs[:k]
    n_rel = sum(1 for r in judged.values() if r >= 1)  # R-EVAL-3
    if n_rel == 0:
        return 0.0
    if metric == "ndcg":  # R-EVAL-4
        dcg = sum(judged[d] / math.log2(r + 2) for r, d in enumerate(top) if judged.get(d, 0) >= 1)
        ideal_gains = sorted((g for g in judged.values() if g >= 1), reverse=True)[:k]
        ideal = sum(g / math.log2(r + 2) for r, g in enumerate(ideal_gains))
        return dcg / ideal
    if metric == "recall":  # R-EVAL-5
        return sum(1 for d in top if judged.get(d, 0) >= 1) / n_rel
    if metric == "mrr":  # R-EVAL-6
        for r, d in enumerate(top):
            if judged.get(d, 0) >= 1:
                return 1.0 / (r + 1)
        return 0.0
    # map, R-EVAL-7
    found, total = 0, 0.0
    for r, d in enumerate(top):
        if judged.get(d, 0) >= 1:
            found += 1
            total += found / (r + 1)
    return total / n_rel


# ----------------------------------------------------------------------------- public


def evaluate(
    run: Run,
    qrels: Qrels,
    metrics: Iterable[str] = DEFAULT_METRICS,
    *,
    per_query: bool = False,
    missing: str = "skip",
) -> dict[str, Any]:
    """The given metrics of ``run`` against ``qrels``.

    Returns ``{metric: mean}`` (e.g. ``{"ndcg@10": 0.64, ...}``), or with ``per_query=True``
    ``{query id: {metric: value}}`` (pytrec_eval's shape) for the evaluated queries.
    ``missing``: ``"skip"`` (default) evaluates the queries in both run and qrels; ``"zero"``
    also gives every judged query absent from the run the value 0 (R-EVAL-8).
    """
    names = list(metrics) if not isinstance(metrics, str) else [metrics]
    parsed = [_metric(m) for m in names]
    if not parsed:
        raise InputError("R-EVAL-9: no metric asked for")
    if missing not in MISSING:
        raise InputError(f"R-EVAL-8: missing must be 'skip' or 'zero', got {missing!r}")
    ranked_run, judged = run_items(run), _qrels(qrels)
    queries = [q for q in judged if q in ranked_run] if missing == "skip" else list(judged)
    if not queries:
        raise InputError("R-EVAL-8: no query of the qrels is in the run: nothing to average")
    values: dict[str, dict[str, float]] = {}
    for q in queries:
        docs = [d for d, _ in ranked_run.get(q, [])]
        values[q] = {
            n: _query_value(m, k, docs, judged[q]) for n, (m, k) in zip(names, parsed, strict=True)
        }
    if per_query:
        return values
    return {n: math.fsum(v[n] for v in values.values()) / len(values) for n in names}


def ndcg(run: Run, qrels: Qrels, k: int = 10, *, missing: str = "skip") -> float:
    """Mean nDCG@k (trec_eval ``ndcg_cut.k``, R-EVAL-4)."""
    return float(evaluate(run, qrels, [f"ndcg@{_cutoff(k)}"], missing=missing)[f"ndcg@{k}"])


def recall(run: Run, qrels: Qrels, k: int = 100, *, missing: str = "skip") -> float:
    """Mean Recall@k (trec_eval ``recall.k``, R-EVAL-5)."""
    return float(evaluate(run, qrels, [f"recall@{_cutoff(k)}"], missing=missing)[f"recall@{k}"])


def mrr(run: Run, qrels: Qrels, k: int = 10, *, missing: str = "skip") -> float:
    """Mean reciprocal rank of the first relevant document in the top ``k`` (R-EVAL-6)."""
    return float(evaluate(run, qrels, [f"mrr@{_cutoff(k)}"], missing=missing)[f"mrr@{k}"])


def map_at(run: Run, qrels: Qrels, k: int = 100, *, missing: str = "skip") -> float:
    """Mean average precision of the top ``k`` (trec_eval ``map_cut.k``, R-EVAL-7)."""
    return float(evaluate(run, qrels, [f"map@{_cutoff(k)}"], missing=missing)[f"map@{k}"])
