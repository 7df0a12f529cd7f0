"""Exact late-interaction scoring and search (spec/maxsim.md).

``score(q, d) = sum over query tokens i of max over document tokens j of <q_i, d_j>``, the max
taken over real tokens only (R-MAXSIM-1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lateint_ref import _checks, _native
from lateint_ref.scoring.documents import Documents
from lateint_ref.scoring.packing import pack_documents, pack_queries


def _inputs(queries: Any, documents: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Packs queries and documents; an empty side borrows the other side's dim."""
    q_vectors, q_offsets = pack_queries(queries)
    if isinstance(documents, Documents):
        docs: Any = documents.native
        d_dim = documents.dim
    else:
        docs = pack_documents(documents)
        d_dim = docs[0].shape[1]
    if len(q_offsets) == 1 and q_vectors.shape[1] == 0:  # no query at all: take the documents' dim
        q_vectors = np.zeros((0, max(d_dim, 1)), dtype=np.float32)
    if not isinstance(docs, _native.DocumentSet) and len(docs[1]) == 1 and d_dim == 0:
        docs = (np.zeros((0, q_vectors.shape[1]), dtype=np.float32), docs[1])
    return q_vectors, q_offsets, docs


def _call(native: Callable[..., Any], queries: Any, documents: Any, *args: Any) -> Any:
    """``native(q_vectors, q_offsets, docs, *args)``. A non-empty list of C-contiguous float32
    ``[n_tokens, dim]`` arrays of one dim goes to the core as it is and is scored where it lies
    (R-MAXSIM-3: no copy); any other list is packed first, which also names its faults."""
    if type(documents) is list and documents:
        q_vectors, q_offsets = pack_queries(queries)
        if q_vectors.shape[0]:
            try:
                return native(q_vectors, q_offsets, documents, *args)
            except _native.NotPlain:
                pass
    return native(*_inputs(queries, documents), *args)


def maxsim(queries: Any, documents: Any, *, threads: int | None = None) -> np.ndarray:
    """MaxSim scores of every query against every document.

    Args:
        queries: one ``[q_len, dim]`` array, a ``[n_queries, q_len, dim]`` array, or a sequence of
            ``[q_len_i, dim]`` arrays (float32 or float16).
        documents: a ``Documents``, a sequence of ``[n_tokens_j, dim]`` arrays, a packed pair
            ``(vectors [n_tokens, dim], offsets [n_docs + 1])`` or a ``[n_docs, n_tokens, dim]``
            array.
        threads: worker threads; None uses every core. Results do not depend on it.

    Returns:
        ``[n_queries, n_docs] float32`` (a single 2-D query gives one row).
    """
    n_threads = _checks.threads(threads)
    scores: np.ndarray = _call(_native.maxsim, queries, documents, n_threads)
    return scores


def maxsim_pairwise(queries: Any, documents: Any, *, threads: int | None = None) -> np.ndarray:
    """MaxSim of query ``i`` with document ``i`` (R-MAXSIM-12), as training and reranking need.

    Returns:
        ``[n] float32``; queries and documents must be equally many.
    """
    n_threads = _checks.threads(threads)
    scores: np.ndarray = _call(_native.maxsim_pairwise, queries, documents, n_threads)
    return scores


def search_exact(
    queries: Any, documents: Any, k: int = 10, *, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best documents of each query by exact MaxSim (R-SEARCH-1).

    Returns:
        ``(scores [n_queries, k'] float32, indices [n_queries, k'] int64)`` with
        ``k' = min(k, n_docs)``, best first; equal scores are ordered by the lower index.
    """
    k_native = _checks.k(k)
    n_threads = _checks.threads(threads)
    found: tuple[np.ndarray, np.ndarray] = _call(
        _native.search_exact, queries, documents, k_native, n_threads
    )
    return found
