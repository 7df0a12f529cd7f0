"""The reference oracles of the spec, one module per spec file: ``maxsim`` (spec/maxsim.md; its
functions are re-exported here, so ``import oracle; oracle.score(q, d)`` reads as before) and
``index`` (spec/index.md). Slow float64 NumPy: the source of the vectors in ``spec/vectors/`` and
what the tests compare the fast implementation against."""

from oracle.maxsim import (
    U32,
    V_BF16,
    abs_products_max,
    bf16_overflows,
    bound_bf16,
    bound_f32,
    gamma,
    maxsim,
    padded_zero_score,
    round_bf16,
    score,
    search_exact,
    token_maxima,
    violated_requirement,
)

__all__ = [
    "U32",
    "V_BF16",
    "abs_products_max",
    "bf16_overflows",
    "bound_bf16",
    "bound_f32",
    "gamma",
    "maxsim",
    "padded_zero_score",
    "round_bf16",
    "score",
    "search_exact",
    "token_maxima",
    "violated_requirement",
]
