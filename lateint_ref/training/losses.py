"""The training losses of PyLate 1.6.0, value for value (spec/training.md R-TRAIN-5 to R-TRAIN-7):
``Contrastive`` (in-batch negatives over every document of the batch), ``CachedContrastive``
(GradCache: the same value and gradients with the memory of one mini-batch) and ``Distillation``
(KL divergence to a teacher's scores). Each is called as
``loss(model, queries=[...], documents=[[...], ...])`` and returns a scalar tensor whose
``backward()`` fills the model's gradients."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from lateint_ref import _checks
from lateint_ref.errors import InputError
from lateint_ref.training import distributed
from lateint_ref.training.model import ColBERT, _strings
from lateint_ref.training.scores import MASKINGS, all_pairs, own_documents

EPSILON = 1e-8  # R-TRAIN-7: the min-max normalisation's guard, as PyLate's


def _groups(queries: Any, documents: Any) -> tuple[list[str], list[str], int]:
    """R-TRAIN-8: ``queries: [B] str``, ``documents: [B][N] str`` with the same ``N >= 1`` for
    every query -> ``(queries, documents flattened row by row, N)``."""
    qs = _strings(queries, "queries")
    if not qs:
        raise InputError("R-TRAIN-8: queries must not be empty")
    if isinstance(documents, str) or not isinstance(documents, (list, tuple)):
        raise InputError(
            "R-TRAIN-8: documents must be a list of lists of strings, got "
            f"{type(documents).__name__}"
        )
    if len(documents) != len(qs):
        raise InputError(
            f"R-TRAIN-8: documents must hold one list per query: {len(documents)} lists for "
            f"{len(qs)} queries"
        )
    rows = [_strings(row, f"documents[{i}]") for i, row in enumerate(documents)]
    n = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != n or not row:
            raise InputError(
                f"R-TRAIN-8: every query needs the same number (>= 1) of documents: "
                f"documents[0] has {n}, documents[{i}] has {len(row)}"
            )
    return qs, [d for row in rows for d in row], n


def _masking(masking: Any) -> str:
    return _checks.choice(masking, "masking", "R-TRAIN-8", MASKINGS)


def _layout(gather_across_devices: bool, documents: torch.Tensor, n: int) -> Any:
    """R-TRAIN-10: the documents' layout across processes when they are gathered (the flag set,
    torch.distributed initialised, more than one process), else None: the plain loss."""
    if not gather_across_devices or distributed.world()[1] == 1:
        return None
    return distributed.layout(documents, n)


def _scaled(loss_sum: torch.Tensor, n_queries: int, shape: distributed.Layout | None) -> Any:
    """R-TRAIN-5 and R-TRAIN-10: the summed cross-entropy of this process's queries divided by
    the number of queries, or, gathered, times ``world_size / (queries of all processes)``."""
    if shape is None:
        return loss_sum / n_queries
    return loss_sum * len(shape.rows) / shape.queries


def _check_documents(kept: torch.Tensor, masking: str, texts: list[str], offset: int = 0) -> None:
    """R-TRAIN-4: the canonical MaxSim is undefined for a document without a kept token."""
    if masking != "exact":
        return
    empty = (kept.sum(dim=-1) == 0).nonzero()
    if len(empty):
        i = int(empty[0, 0])
        raise InputError(
            f"R-TRAIN-4: document {offset + i} ({texts[i]!r}) has no token to score with "
            'masking="exact"'
        )


def _cross_entropy_sum(
    scores: torch.Tensor, temperature: float, n: int, first: int
) -> torch.Tensor:
    """R-TRAIN-5: ``sum_i CE(scores[i] / temperature, (first + i) * n)`` over the rows given."""
    labels = (torch.arange(scores.shape[0], device=scores.device) + first) * n
    return F.cross_entropy(scores / temperature, labels, reduction="sum")


class Contrastive:
    """R-TRAIN-5: ``mean_i CE(S[i] / temperature, i * N)``, ``S`` every query against every
    document of the batch (``[B, B * N]``, column ``j * N + k`` for ``documents[j][k]``; the
    positive of query ``i`` is ``documents[i][0]``). ``gather_across_devices``: the documents of
    every torch.distributed process are negatives too (R-TRAIN-10)."""

    def __init__(
        self, temperature: float = 1.0, masking: str = "pylate", gather_across_devices: bool = False
    ) -> None:
        self.temperature = _checks.positive_real(temperature, "temperature", "R-TRAIN-8")
        self.masking = _masking(masking)
        self.gather_across_devices = _checks.flag(
            gather_across_devices, "gather_across_devices", "R-TRAIN-8"
        )

    def __call__(self, model: ColBERT, *, queries: list[str], documents: list[list[str]]) -> Any:
        qs, flat, n = _groups(queries, documents)
        q, q_kept = model.embed(qs, is_query=True)
        d, d_kept = model.embed(flat, is_query=False)
        _check_documents(d_kept, self.masking, flat)
        shape = _layout(self.gather_across_devices, d, n)
        if shape is not None:  # R-TRAIN-10
            d_kept = distributed.gather(d_kept, shape)
            d = distributed.gather_with_gradient(d, shape)
        scores = all_pairs(
            q, q_kept, d, d_kept, masking=self.masking,
            document_length=model.settings.document_length,
        )  # fmt: skip
        first = 0 if shape is None else shape.first_query
        return _scaled(_cross_entropy_sum(scores, self.temperature, n, first), len(qs), shape)


class _Chunk:
    """One mini-batch of texts: its embeddings (detached), kept mask, and the random state its
    first forward pass ran with, so that the re-run with gradients computes the same thing."""

    def __init__(self, model: ColBERT, texts: list[str], is_query: bool) -> None:
        self.texts, self.is_query = texts, is_query
        self.rng = _rng_state(model.device)
        with torch.no_grad():
            embeddings, self.kept = model.embed(texts, is_query=is_query)
        self.embeddings = embeddings.detach()

    def rerun(self, model: ColBERT) -> torch.Tensor:
        """The embeddings again, with gradients, under the saved random state."""
        devices = [model.device] if model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            _set_rng_state(self.rng, model.device)
            embeddings, _ = model.embed(self.texts, is_query=self.is_query)
        return embeddings


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _padded(chunks: list[_Chunk]) -> tuple[torch.Tensor, torch.Tensor]:
    """The chunks' document embeddings ``[n, d_len, dim]`` and kept masks ``[n, d_len]``, each
    chunk padded with rows that are not kept to the longest chunk's length."""
    width = max(c.embeddings.shape[1] for c in chunks)
    embeddings = torch.cat(
        [F.pad(c.embeddings, (0, 0, 0, width - c.embeddings.shape[1])) for c in chunks]
    )
    kept = torch.cat([F.pad(c.kept, (0, width - c.kept.shape[1])) for c in chunks])
    return embeddings, kept


class CachedContrastive:
    """R-TRAIN-6: ``Contrastive``'s value and gradients (GradCache), the model run on at most
    ``mini_batch_size`` texts at a time: (1) every mini-batch embedded without gradients; (2) the
    loss and its gradients with respect to the embeddings, one mini-batch of queries at a time;
    (3) at ``backward()``, each mini-batch embedded again with gradients and its cached
    embedding gradients pushed through the model. ``gather_across_devices``: as
    ``Contrastive``'s (R-TRAIN-10)."""

    def __init__(
        self,
        mini_batch_size: int = 32,
        temperature: float = 1.0,
        masking: str = "pylate",
        gather_across_devices: bool = False,
    ) -> None:
        self.mini_batch_size = _checks.positive(mini_batch_size, "mini_batch_size", "R-TRAIN-8")
        self.temperature = _checks.positive_real(temperature, "temperature", "R-TRAIN-8")
        self.masking = _masking(masking)
        self.gather_across_devices = _checks.flag(
            gather_across_devices, "gather_across_devices", "R-TRAIN-8"
        )

    def __call__(self, model: ColBERT, *, queries: list[str], documents: list[list[str]]) -> Any:
        qs, flat, n = _groups(queries, documents)
        m = self.mini_batch_size
        q_chunks = [_Chunk(model, qs[i : i + m], True) for i in range(0, len(qs), m)]
        d_chunks = [_Chunk(model, flat[i : i + m], False) for i in range(0, len(flat), m)]
        for i, c in enumerate(d_chunks):
            _check_documents(c.kept, self.masking, c.texts, i * m)
        d_all, d_kept = _padded(d_chunks)
        shape = _layout(self.gather_across_devices, d_all, n)
        if shape is not None:  # R-TRAIN-10: a leaf whose gradient is summed over processes below
            d_all, d_kept = distributed.gather(d_all, shape), distributed.gather(d_kept, shape)
        grad = torch.is_grad_enabled()
        d_all.requires_grad_(grad)
        length = model.settings.document_length
        total = torch.zeros((), device=d_all.device)
        first = 0 if shape is None else shape.first_query
        for c in q_chunks:
            q = c.embeddings.requires_grad_(grad)
            scores = all_pairs(
                q, c.kept, d_all, d_kept, masking=self.masking, document_length=length
            )
            part = _scaled(_cross_entropy_sum(scores, self.temperature, n, first), len(qs), shape)
            if grad:
                torch.autograd.backward(part)  # frees this mini-batch's scores before the next one
            total = total + part.detach()
            first += len(c.texts)
        if not grad:
            return total
        q_grads = [c.embeddings.grad for c in q_chunks]
        d_grads = []
        assert d_all.grad is not None  # every document takes part in every query's scores
        d_grad = d_all.grad if shape is None else distributed.local_gradient(d_all.grad, shape)
        start = 0
        for c in d_chunks:
            rows, width = c.embeddings.shape[:2]
            d_grads.append(d_grad[start : start + rows, :width])
            start += rows
        value = total.detach().requires_grad_()
        hook = _backward_through(model, [*q_chunks, *d_chunks], [*q_grads, *d_grads])
        value.register_hook(hook)  # type: ignore[no-untyped-call]  # torch leaves it untyped
        return value


def _backward_through(
    model: ColBERT, chunks: list[_Chunk], grads: list[torch.Tensor | None]
) -> Callable[[torch.Tensor], None]:
    """GradCache's step (3): a hook on the returned value that re-embeds each mini-batch with
    gradients and backpropagates ``<embeddings, cached gradient> * upstream gradient``."""

    def hook(upstream: torch.Tensor) -> None:
        with torch.enable_grad():
            for chunk, g in zip(chunks, grads, strict=True):
                if g is None:
                    continue
                embeddings = chunk.rerun(model)
                torch.autograd.backward((embeddings * g).sum() * upstream)

    return hook


class Distillation:
    """R-TRAIN-7: ``KL(softmax(T) || softmax(S'))`` averaged over queries (batchmean), ``S`` each
    query against its own documents ``[B, N]``, ``S'`` its per-query min-max normalisation
    ``(S - min) / (max - min + 1e-8)`` (or ``S`` when ``normalize_scores`` is false), ``T`` the
    teacher's scores taken as logits."""

    def __init__(self, normalize_scores: bool = True, masking: str = "pylate") -> None:
        self.normalize_scores = _checks.flag(normalize_scores, "normalize_scores", "R-TRAIN-8")
        self.masking = _masking(masking)

    def __call__(
        self,
        model: ColBERT,
        *,
        queries: list[str],
        documents: list[list[str]],
        teacher_scores: list[list[float]],
    ) -> Any:
        qs, flat, n = _groups(queries, documents)
        teacher = _teacher(teacher_scores, len(qs), n).to(model.device)
        q, q_kept = model.embed(qs, is_query=True)
        d, d_kept = model.embed(flat, is_query=False)
        _check_documents(d_kept, self.masking, flat)
        scores = own_documents(
            q,
            q_kept,
            d.reshape(len(qs), n, *d.shape[1:]),
            d_kept.reshape(len(qs), n, -1),
            masking=self.masking,
            document_length=model.settings.document_length,
        )
        if self.normalize_scores:
            low = scores.min(dim=1, keepdim=True).values
            high = scores.max(dim=1, keepdim=True).values
            scores = (scores - low) / (high - low + EPSILON)
        return F.kl_div(
            F.log_softmax(scores, dim=-1),
            F.log_softmax(teacher, dim=-1),
            reduction="batchmean",
            log_target=True,
        )


def _teacher(scores: Any, n_queries: int, n: int) -> torch.Tensor:
    """R-TRAIN-8: ``[n_queries][n]`` finite numbers -> ``[n_queries, n] f32``."""
    shape_ok = (
        isinstance(scores, (list, tuple))
        and len(scores) == n_queries
        and all(isinstance(r, (list, tuple)) and len(r) == n for r in scores)
    )
    if not shape_ok:
        raise InputError(
            f"R-TRAIN-8: teacher_scores must be {n_queries} lists of {n} numbers, one per document"
        )
    values = [x for r in scores for x in r]
    for x in values:
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(float(x)):
            raise InputError(f"R-TRAIN-8: teacher_scores must be finite numbers, got {x!r}")
    return torch.tensor([float(x) for x in values], dtype=torch.float32).reshape(n_queries, n)
