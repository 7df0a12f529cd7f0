"""The codec sample of a new index (spec/retriever.md R-RET-8): the documents, drawn across the
whole corpus with a seeded shuffle, that are encoded first and create the index, so that its
centroids and buckets see the whole collection whatever the chunk size; and the number of
centroids for the collection those documents stand for."""

from __future__ import annotations

import math

from lateint_ref import _checks

_MASK = (1 << 64) - 1
MAX_CENTROIDS = 65536  # R-KMEANS-1
# The sample is encoded this many documents at a time, whatever ``commit_every`` is, so that its
# embeddings, and the codec fitted on them, do not depend on the chunk size.
GROUP = 1024


def default_size(n_docs: int) -> int:
    """``min(n_docs, ceil(16 * sqrt(120 * n_docs)))`` documents (R-RET-8)."""
    return min(n_docs, math.ceil(16 * math.sqrt(120 * n_docs)))


def checked_size(size: object, n_docs: int) -> int:
    """The sample size for ``n_docs >= 1`` documents: the default rule for None, else an integer
    in ``1..`` (more than ``n_docs`` takes them all); anything else raises ``InputError``."""
    if size is None:
        return default_size(n_docs)
    return min(n_docs, _checks.integer(size, "sample_documents", "R-RET-8", 1, 2**62))


def positions(n_docs: int, size: int, seed: int) -> list[int]:
    """The corpus positions of the sample, ascending: the first ``size`` entries of the seeded
    partial Fisher-Yates shuffle of ``0..n_docs`` of R-KMEANS-2 (SplitMix64 seeded with
    ``seed``), sorted."""
    state = seed & _MASK
    moved: dict[int, int] = {}  # the shuffled array, where it differs from the identity
    out = []
    for i in range(size):
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        j = i + z % (n_docs - i)
        a_i, a_j = moved.get(i, i), moved.get(j, j)
        moved[j] = a_i
        out.append(a_j)
    return sorted(out)


def centroids(n_docs: int, sample_docs: int, sample_tokens: int) -> int:
    """``K`` of R-KMEANS-1 for the collection's estimated token count, ``n_docs`` times the
    sample's tokens per document (rounded half up), at most the sample's tokens."""
    estimate = max(1, (2 * n_docs * sample_tokens + sample_docs) // (2 * sample_docs))
    k = max(0.0, math.floor(math.log2(8.0 * math.sqrt(estimate))))
    return max(1, min(1 << min(int(k), 20), sample_tokens, MAX_CENTROIDS))
