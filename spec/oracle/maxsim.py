"""Reference oracle for spec/maxsim.md: slow, single-file, float64 NumPy.

Every function takes plain NumPy arrays (token matrices ``[n_tokens, dim]``) and follows the
requirement it names. It is the source of the expected values in ``spec/vectors/`` and the
reference the tests compare the fast implementation against. It imports nothing but NumPy.
"""

from __future__ import annotations

import math

import numpy as np

U32 = 2.0**-24  # float32 unit roundoff
V_BF16 = 2.0**-8  # bfloat16 unit roundoff


def gamma(n: int, u: float = U32) -> float:
    """``gamma(n) = n u / (1 - n u)``, the bound on ``n`` successive relative roundings."""
    return n * u / (1.0 - n * u)


def dots(q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``[q_len, d_len]`` dot products ``<q_i, d_j>`` correctly rounded to float64: each product
    of two float32 (or float16) values is exact in float64, and ``math.fsum`` rounds their sum
    once. No BLAS: the result is the same on every CPU and NumPy build."""
    q64, d64 = np.asarray(q, np.float64), np.asarray(d, np.float64)
    out = np.empty((len(q64), len(d64)))
    for i, row in enumerate(q64):
        for j, products in enumerate(row * d64):
            out[i, j] = math.fsum(products)
    return out


def token_maxima(q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """R-MAXSIM-1: ``[q_len]`` max over real document tokens of ``<q_i, d_j>``, in float64."""
    return dots(q, d).max(axis=1)


def score(q: np.ndarray, d: np.ndarray) -> float:
    """R-MAXSIM-1: ``sum_i max_j <q_i, d_j>`` in float64."""
    return float(math.fsum(token_maxima(q, d)))


def maxsim(queries: list[np.ndarray], documents: list[np.ndarray]) -> np.ndarray:
    """R-MAXSIM-2: ``[n_queries, n_docs]`` float64 scores."""
    out = np.zeros((len(queries), len(documents)))
    for i, q in enumerate(queries):
        for j, d in enumerate(documents):
            out[i, j] = score(q, d)
    return out


def padded_zero_score(q: np.ndarray, d: np.ndarray, padded_len: int) -> float:
    """What a peer that zero-pads documents to ``padded_len`` tokens and lets the padding compete
    with similarity 0 (PyLate's ``colbert_scores`` with masks multiplied in) returns. Informative
    only: it is NOT R-MAXSIM-1 when some token's true maximum is negative."""
    m = token_maxima(q, d)
    if padded_len > len(d):
        m = np.maximum(m, 0.0)
    return float(math.fsum(m))


def abs_products_max(q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``[q_len]``: ``max_j a_ij`` with ``a_ij = sum_k |q_ik d_jk|``."""
    return dots(np.abs(np.asarray(q, np.float64)), np.abs(np.asarray(d, np.float64))).max(axis=1)


def bound_f32(q: np.ndarray, d: np.ndarray) -> float:
    """R-MAXSIM-10: the allowed ``|S - S*|`` for float32 storage."""
    dim = q.shape[1]
    a = float(abs_products_max(q, d).sum())
    subnormal = len(q) * dim * 2.0**-149
    return gamma(dim + 1) * a + U32 * abs(score(q, d)) + len(q) * 2.0**-50 * a + subnormal


def round_bf16(x: np.ndarray) -> np.ndarray:
    """R-MAXSIM-11: float32 values rounded to bfloat16 (nearest, ties to even), as float32."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return (rounded.astype(np.uint32) << 16).view(np.float32)


def bf16_overflows(x: np.ndarray) -> bool:
    """R-MAXSIM-11: whether a finite value rounds beyond the largest finite bfloat16."""
    return bool(np.isinf(round_bf16(x)).any())


def bound_bf16(q: np.ndarray, d: np.ndarray) -> float:
    """R-MAXSIM-11: the allowed ``|S - S*|`` for bfloat16 storage, ``S*`` from unrounded inputs."""
    dim_p = 2 * ((q.shape[1] + 1) // 2)
    per_token = abs_products_max(q, d)
    rounding = (2 * V_BF16 + V_BF16**2) + gamma(dim_p + 1) * (1 + V_BF16) ** 2
    a = float(per_token.sum())
    return (
        rounding * a + len(q) * dim_p * 2.0**-125 + U32 * abs(score(q, d)) + len(q) * 2.0**-50 * a
    )


def search_exact(
    queries: list[np.ndarray], documents: list[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """R-SEARCH-1: ``(scores, indices)`` of the ``min(k, n_docs)`` best, ties to the lower index."""
    scores = maxsim(queries, documents)
    kk = min(k, len(documents))
    order = np.lexsort((np.broadcast_to(np.arange(len(documents)), scores.shape), -scores))
    top = order[:, :kk]
    return np.take_along_axis(scores, top, axis=1), top


def violated_requirement(
    queries: list[np.ndarray], documents: list[np.ndarray], storage: str = "float32"
) -> str | None:
    """The first requirement a call's inputs break (checked in the order of the spec), or None.

    Covers R-MAXSIM-5 (dtype), -6 (rank), -7 (dimension), -8 (empty item), -9 (finite) and -11
    (bfloat16 overflow, storage name) for inputs given as lists of arrays.
    """
    items = [np.asarray(x) for x in [*queries, *documents]]
    if any(a.dtype not in (np.float32, np.float16) for a in items):
        return "R-MAXSIM-5"
    if any(a.ndim != 2 for a in items):
        return "R-MAXSIM-6"
    if len({a.shape[1] for a in items}) > 1 or any(a.shape[1] == 0 for a in items):
        return "R-MAXSIM-7"
    if any(a.shape[0] == 0 for a in items):
        return "R-MAXSIM-8"
    if any(not np.isfinite(a).all() for a in items):
        return "R-MAXSIM-9"
    if storage not in ("float32", "bfloat16"):
        return "R-MAXSIM-11"
    if storage == "bfloat16" and any(bf16_overflows(a) for a in items):
        return "R-MAXSIM-11"
    return None
