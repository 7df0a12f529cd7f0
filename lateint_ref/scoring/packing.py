"""Turning the accepted input forms into the packed form the native core reads.

Packed form (R-MAXSIM-3, R-MAXSIM-4): ``vectors: [n_tokens, dim] float32`` C-contiguous, and
``offsets: [n_items + 1] int64`` with item ``i`` owning rows ``offsets[i]:offsets[i + 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lateint_ref.errors import InputError

Packed = tuple[np.ndarray, np.ndarray]


def _array(x: Any, what: str) -> np.ndarray:
    """``x`` as a NumPy array of an accepted dtype (R-MAXSIM-5); float16 is widened exactly."""
    try:
        a = np.asarray(x)
    except Exception as exc:  # objects NumPy cannot view (e.g. bfloat16 tensors)
        raise InputError(f"R-MAXSIM-5: {what} cannot be read as an array: {exc}") from exc
    if a.dtype.kind != "f" or a.dtype.itemsize not in (2, 4):  # float32/float16, any byte order
        raise InputError(
            f"R-MAXSIM-5: {what} has dtype {a.dtype}; accepted are float32 and float16 "
            "(convert with .astype(numpy.float32))"
        )
    return a


def _matrix(x: Any, what: str) -> np.ndarray:
    """One token matrix ``[n_tokens, dim]`` as float32 (R-MAXSIM-6)."""
    a = _array(x, what)
    if a.ndim != 2:
        raise InputError(f"R-MAXSIM-6: {what} must be 2-D [n_tokens, dim], got shape {a.shape}")
    return a


def _concat(mats: list[np.ndarray], what: str) -> Packed:
    """Packs 2-D matrices; R-MAXSIM-7 when their dims differ."""
    dims = {m.shape[1] for m in mats}
    if len(dims) > 1:
        raise InputError(f"R-MAXSIM-7: {what}s have different dims {sorted(dims)}")
    lengths = np.fromiter((m.shape[0] for m in mats), dtype=np.int64, count=len(mats))
    offsets = np.zeros(len(mats) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    dim = dims.pop() if dims else 0
    vectors = np.empty((int(offsets[-1]), dim), dtype=np.float32)
    for m, start, end in zip(mats, offsets[:-1], offsets[1:], strict=True):
        vectors[start:end] = m
    return vectors, offsets


def _from_3d(a: np.ndarray) -> Packed:
    """``[n_items, n_tokens, dim]``: every item has all ``n_tokens`` rows."""
    n, t, dim = a.shape
    vectors = _in_place(a.reshape(n * t, dim))
    return vectors, np.arange(n + 1, dtype=np.int64) * t


def _in_place(a: np.ndarray) -> np.ndarray:
    """``a`` itself where the core can read it (C-contiguous, aligned float32), else a copy."""
    return np.require(a, dtype=np.float32, requirements=["C", "A"])


def pack_queries(queries: Any) -> Packed:
    """Queries in packed form (R-MAXSIM-2).

    ``queries``: one ``[q_len, dim]`` array, a ``[n_queries, q_len, dim]`` array, or a sequence of
    ``[q_len_i, dim]`` arrays.
    """
    if isinstance(queries, Sequence) and not isinstance(queries, str | bytes):
        return _concat([_matrix(q, f"query {i}") for i, q in enumerate(queries)], "query")
    a = _array(queries, "queries")
    if a.ndim == 2:
        return _concat([a], "query")
    if a.ndim == 3:
        return _from_3d(a)
    raise InputError(
        "R-MAXSIM-6: queries must be [q_len, dim], [n_queries, q_len, dim] or a sequence of "
        f"[q_len, dim] arrays, got shape {a.shape}"
    )


def _offsets(x: Any) -> np.ndarray:
    """Packed offsets as int64 (R-MAXSIM-4: a 1-D integer array)."""
    a = np.asarray(x)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise InputError(
            f"R-MAXSIM-4: document offsets must be a 1-D integer array, got {a.dtype} {a.shape}"
        )
    if a.size and (int(a.max()) > np.iinfo(np.int64).max or int(a.min()) < 0):
        raise InputError(f"R-MAXSIM-4: document offsets out of range: {a.min()}..{a.max()}")
    return a.astype(np.int64)


def pack_documents(documents: Any) -> Packed:
    """Documents in packed form (R-MAXSIM-3).

    ``documents``: a sequence of ``[n_tokens_j, dim]`` arrays; a packed pair ``(vectors
    [n_tokens, dim], offsets [n_docs + 1] integer)`` (a 2-tuple whose second item is not 2-D);
    or a ``[n_docs, n_tokens, dim]`` array.
    """
    if isinstance(documents, tuple) and len(documents) == 2 and np.ndim(documents[1]) != 2:
        vectors = _matrix(documents[0], "document vectors")
        return _in_place(vectors), _offsets(documents[1])
    if isinstance(documents, Sequence) and not isinstance(documents, str | bytes):
        return _concat([_matrix(d, f"document {j}") for j, d in enumerate(documents)], "document")
    a = _array(documents, "documents")
    if a.ndim == 3:
        return _from_3d(a)
    raise InputError(
        "R-MAXSIM-6: documents must be a sequence of [n_tokens, dim] arrays, a (vectors, offsets) "
        f"pair, a [n_docs, n_tokens, dim] array or a Documents, got shape {a.shape}"
    )
