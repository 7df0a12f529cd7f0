"""Differentiable late-interaction scores for the losses (spec/training.md R-TRAIN-4): the
canonical MaxSim of spec/maxsim.md (``masking="exact"``) or PyLate 1.6.0's ``colbert_scores``,
where a masked document position competes in the max with similarity 0 (``masking="pylate"``)."""

from __future__ import annotations

import torch

MASKINGS = ("pylate", "exact")
# Elements of one [queries, documents, q_len, d_len] similarity block: bounds transient memory.
_BLOCK = 1 << 24


def _token_max(
    sims: torch.Tensor, document_kept: torch.Tensor, zero: torch.Tensor | None
) -> torch.Tensor:
    """``sims: [..., n_docs, q_len, d_len]``, ``document_kept: [n_docs, d_len] bool``, ``zero:
    [n_docs] bool`` (pylate: the document has a masked position) -> ``[..., n_docs, q_len]``."""
    best = sims.masked_fill(~document_kept[:, None, :], float("-inf")).max(dim=-1).values
    if zero is None:
        return best
    return torch.where(zero[:, None], best.clamp_min(0.0), best)


def _zero(document_kept: torch.Tensor, masking: str, document_length: int) -> torch.Tensor | None:
    """pylate: PyLate's collator pads every document to ``document_length``; a document with
    fewer kept rows has a masked position, whose similarity 0 competes in the max."""
    if masking == "exact":
        return None
    return document_kept.sum(dim=-1) < document_length


def all_pairs(
    queries: torch.Tensor,
    query_kept: torch.Tensor,
    documents: torch.Tensor,
    document_kept: torch.Tensor,
    *,
    masking: str,
    document_length: int,
) -> torch.Tensor:
    """Every query against every document: ``queries: [n_q, q_len, dim]``, ``query_kept: [n_q,
    q_len] bool``, ``documents: [n_d, d_len, dim]``, ``document_kept: [n_d, d_len] bool`` ->
    ``[n_q, n_d] f32``. A query row that is not kept adds 0."""
    zero = _zero(document_kept, masking, document_length)
    n_q, q_len, _ = queries.shape
    n_d, d_len, _ = documents.shape
    step = max(1, _BLOCK // max(1, n_q * q_len * d_len))
    blocks = []
    for start in range(0, n_d, step):
        stop = start + step
        sims = torch.einsum("aid,bjd->abij", queries, documents[start:stop])
        best = _token_max(
            sims, document_kept[start:stop], None if zero is None else zero[start:stop]
        )
        blocks.append((best * query_kept[:, None, :]).sum(dim=-1))
    if not blocks:
        return queries.new_zeros((n_q, 0))
    return torch.cat(blocks, dim=1)


def own_documents(
    queries: torch.Tensor,
    query_kept: torch.Tensor,
    documents: torch.Tensor,
    document_kept: torch.Tensor,
    *,
    masking: str,
    document_length: int,
) -> torch.Tensor:
    """Each query against its own documents: ``queries: [n_q, q_len, dim]``, ``documents:
    [n_q, n_ways, d_len, dim]``, ``document_kept: [n_q, n_ways, d_len] bool`` -> ``[n_q, n_ways]
    f32``."""
    n_q, n_ways, d_len, _ = documents.shape
    flat_kept = document_kept.reshape(n_q * n_ways, d_len)
    zero = _zero(flat_kept, masking, document_length)
    sims = torch.einsum("aid,akjd->akij", queries, documents).reshape(
        n_q * n_ways, queries.shape[1], d_len
    )
    best = _token_max(sims, flat_kept, zero).reshape(n_q, n_ways, -1)
    return (best * query_kept[:, None, :]).sum(dim=-1)
