"""``rank.rerank``: PyLate's reranking of given candidates by exact MaxSim (R-PYAPI-9); no index,
no torch."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from lateint_ref.errors import InputError
from lateint_ref.pylate import embeddings
from lateint_ref.scoring.exact import maxsim


class RerankResult(TypedDict):
    """One result: a document id and its score (a Python float)."""

    id: Any
    score: float


def _queries(queries_embeddings: Any) -> list[np.ndarray]:
    """One ``[q_len, dim]`` matrix per query: a single 2-D query is one query, as in PyLate."""
    return embeddings.matrices(queries_embeddings, "queries_embeddings", "R-PYAPI-9")


def rerank(
    documents_ids: Any,
    queries_embeddings: Any,
    documents_embeddings: Any,
    device: str | None = None,
) -> list[list[RerankResult]]:
    """R-PYAPI-9: for query ``i``, its candidates ``documents_ids[i]`` (with
    ``documents_embeddings[i]``, one ``[n_tokens, dim]`` matrix per candidate) ordered by exact
    MaxSim (R-MAXSIM-1, no zero padding), best first, equal scores in the order given; every
    candidate is returned, as ``{"id": ..., "score": float}``. ``device`` is accepted and
    ignored (the scoring runs on the CPU kernels)."""
    queries = _queries(queries_embeddings)
    if isinstance(documents_ids, (str, bytes)) or not isinstance(documents_ids, (list, tuple)):
        raise InputError(
            f"R-PYAPI-9: documents_ids must be one list of ids per query, got {documents_ids!r}"
        )
    groups = documents_embeddings
    if not isinstance(groups, (list, tuple)):
        batch = embeddings.array(groups, "documents_embeddings", "R-PYAPI-9")
        if batch.ndim != 4:
            raise InputError(
                "R-PYAPI-9: documents_embeddings must hold one list of [n_tokens, dim] document "
                f"matrices per query, got shape {batch.shape}"
            )
        groups = list(batch)
    if not (len(queries) == len(documents_ids) == len(groups)):
        raise InputError(
            f"R-PYAPI-9: {len(queries)} queries, {len(documents_ids)} lists of documents_ids and "
            f"{len(groups)} lists of documents_embeddings must be equally many"
        )
    results: list[list[RerankResult]] = []
    for i, (query, ids, group) in enumerate(zip(queries, documents_ids, groups, strict=True)):
        docs = embeddings.matrices(group, f"documents_embeddings[{i}]", "R-PYAPI-9")
        ids = list(ids) if isinstance(ids, (list, tuple, range, np.ndarray)) else None
        if ids is None or len(ids) != len(docs):
            raise InputError(
                f"R-PYAPI-9: documents_ids[{i}] must list one id per document of "
                f"documents_embeddings[{i}] ({len(docs)})"
            )
        if not docs:
            results.append([])
            continue
        scores = maxsim(query, docs)[0]
        order = np.argsort(-scores, kind="stable")
        results.append([{"id": ids[j], "score": float(scores[j])} for j in order.tolist()])
    return results
