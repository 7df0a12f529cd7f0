"""Float64 oracle of the training losses (spec/training.md R-TRAIN-4 to R-TRAIN-7) on given
token embeddings, with their gradients: the source of spec/conformance/training-v1.json
(spec/conformance_vectors.py). Slow and plain NumPy, written from the formulas of the spec.

The inputs are a model's raw outputs ``x`` (rows not yet normalised): a loss divides each row by
``max(||x||, 1e-12)`` (R-TRAIN-2), so the gradients returned are with respect to ``x`` through
that normalisation, ``(g - u (u . g)) / ||x||`` for ``u = x / ||x||``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _unit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return x / norms, norms


def _back_normalize(g: np.ndarray, u: np.ndarray, norms: np.ndarray) -> np.ndarray:
    return (g - u * np.sum(u * g, axis=-1, keepdims=True)) / norms


def scores(q: np.ndarray, d: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """R-TRAIN-4 with masking="pylate": ``S [n_q, n_d]`` of unit queries ``q [n_q, L_q, dim]``
    against unit documents ``d [n_d, L_d, dim]`` with ``kept [n_d, L_d]``, and for every
    ``(i, j, t)`` the winning document row (None when the constant 0 wins)."""
    n_q, l_q, _ = q.shape
    n_d, l_d, _ = d.shape
    s = np.zeros((n_q, n_d))
    winners: list[Any] = []
    for i in range(n_q):
        row = []
        for j in range(n_d):
            rows = np.flatnonzero(kept[j])
            z = 0.0 if len(rows) < l_d else -np.inf
            wins = []
            for t in range(l_q):
                sims = d[j, rows] @ q[i, t] if len(rows) else np.zeros(0)
                best = int(np.argmax(sims)) if len(rows) else -1
                if len(rows) and sims[best] > z:
                    s[i, j] += sims[best]
                    wins.append(int(rows[best]))
                else:
                    s[i, j] += z if np.isfinite(z) else 0.0
                    wins.append(None)
            row.append(wins)
        winners.append(row)
    return s, winners


def margin(q: np.ndarray, d: np.ndarray, kept: np.ndarray) -> float:
    """The least gap between the winner of a max and the runner-up (the 0 of a masked document
    counted), over every ``(i, j, t)``: a generator keeps it large so that float32 rounding
    cannot change a winner."""
    gaps = []
    l_d = d.shape[1]
    for i in range(q.shape[0]):
        for j in range(d.shape[0]):
            rows = np.flatnonzero(kept[j])
            for t in range(q.shape[1]):
                cands = list(d[j, rows] @ q[i, t])
                if len(rows) < l_d:
                    cands.append(0.0)
                if len(cands) > 1:
                    top = sorted(cands)[-2:]
                    gaps.append(top[1] - top[0])
    return float(min(gaps)) if gaps else np.inf


def _grad_embeddings(
    g_s: np.ndarray, q: np.ndarray, d: np.ndarray, winners: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the unit embeddings from ``dL/dS``."""
    g_q, g_d = np.zeros_like(q), np.zeros_like(d)
    for i, row in enumerate(winners):
        for j, wins in enumerate(row):
            for t, s in enumerate(wins):
                if s is not None and g_s[i, j] != 0:
                    g_q[i, t] += g_s[i, j] * d[j, s]
                    g_d[j, s] += g_s[i, j] * q[i, t]
    return g_q, g_d


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def contrastive(
    xq: np.ndarray, xd: np.ndarray, kept: np.ndarray, temperature: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """R-TRAIN-5: value and gradients for raw queries ``[B, L_q, dim]`` and documents
    ``[B, N, L_d, dim]`` (``kept [B, N, L_d]``); CachedContrastive's are the same (R-TRAIN-6)."""
    b, n = xd.shape[:2]
    q, qn = _unit(xq)
    d, dn = _unit(xd.reshape(b * n, *xd.shape[2:]))
    s, winners = scores(q, d, kept.reshape(b * n, -1))
    logits = s / temperature
    labels = np.arange(b) * n
    lse = np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1)) + logits.max(1)
    value = float(np.mean(lse - logits[np.arange(b), labels]))
    g_s = _softmax(logits)
    g_s[np.arange(b), labels] -= 1
    g_s /= b * temperature
    g_q, g_d = _grad_embeddings(g_s, q, d, winners)
    return (
        value,
        _back_normalize(g_q, q, qn),
        _back_normalize(g_d, d, dn).reshape(xd.shape),
    )


def distillation(
    xq: np.ndarray, xd: np.ndarray, kept: np.ndarray, teacher: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """R-TRAIN-7 (normalize_scores=True): value and gradients; each query against its own
    ``N`` documents, teacher scores ``[B, N]``."""
    b, n = xd.shape[:2]
    q, qn = _unit(xq)
    d, dn = _unit(xd.reshape(b * n, *xd.shape[2:]))
    full, winners = scores(q, d, kept.reshape(b * n, -1))
    own = np.stack([full[i, i * n : (i + 1) * n] for i in range(b)])
    lo, hi = own.min(axis=1, keepdims=True), own.max(axis=1, keepdims=True)
    den = hi - lo + 1e-8
    sn = (own - lo) / den
    p, s = _softmax(teacher), _softmax(sn)
    value = float(np.sum(p * (np.log(p) - np.log(s))) / b)
    g_sn = (s - p) / b
    g_own = g_sn / den
    for i in range(b):
        a_min, a_max = int(np.argmin(own[i])), int(np.argmax(own[i]))
        total = g_sn[i].sum() / den[i, 0]
        weighted = np.sum(g_sn[i] * (own[i] - lo[i, 0])) / den[i, 0] ** 2
        g_own[i, a_min] += -total + weighted
        g_own[i, a_max] -= weighted
    g_s = np.zeros_like(full)
    for i in range(b):
        g_s[i, i * n : (i + 1) * n] = g_own[i]
    g_q, g_d = _grad_embeddings(g_s, q, d, winners)
    return (
        value,
        _back_normalize(g_q, q, qn),
        _back_normalize(g_d, d, dn).reshape(xd.shape),
    )


def _draw(rng: np.random.Generator, b: int, n: int, l_q: int, l_d: int, dim: int) -> tuple:
    """Raw embeddings of norms 0.5 to 2, some documents turned against the queries (negative
    maxima), kept masks from full to a single row."""
    xq = rng.standard_normal((b, l_q, dim)) * rng.uniform(0.5, 2.0, (b, l_q, 1))
    xd = rng.standard_normal((b, n, l_d, dim)) * rng.uniform(0.5, 2.0, (b, n, l_d, 1))
    direction = xq.reshape(-1, dim).sum(axis=0)
    for j, k in [(0, n - 1), (b - 1, 0)]:
        xd[j, k] = -np.abs(xd[j, k]) * np.sign(direction) - 0.8 * direction / np.linalg.norm(
            direction
        )
    kept = np.ones((b, n, l_d), dtype=bool)
    kept[0, 0, l_d // 2 :] = False
    kept[b - 1, 0, 1:] = False
    kept[1, n - 1, ::2] = False
    # the document turned against the queries at (0, n - 1) stays full: its negative maxima count
    return xq.astype(np.float32), xd.astype(np.float32), kept


def batches() -> list[dict[str, Any]]:
    """The batches of training-v1.json: inputs and the oracle's values and gradients."""
    from lateint_ref.conformance.vectors import encode_matrix

    out = []
    rng = np.random.default_rng(20261204)
    for name, (b, n, l_q, l_d, dim, temperature) in {
        "batch-a": (3, 3, 4, 6, 8, 1.0),
        "batch-b": (2, 4, 3, 4, 5, 0.05),
    }.items():
        while True:
            xq, xd, kept = _draw(rng, b, n, l_q, l_d, dim)
            q = _unit(xq.astype(np.float64))[0]
            d = _unit(xd.reshape(b * n, l_d, dim).astype(np.float64))[0]
            if margin(q, d, kept.reshape(b * n, l_d)) > 1e-3:
                break
        teacher = np.round(rng.uniform(-2, 6, (b, n)), 3).astype(np.float32)
        x64q, x64d = xq.astype(np.float64), xd.astype(np.float64)
        c = contrastive(x64q, x64d, kept, temperature)
        dd = distillation(x64q, x64d, kept, teacher.astype(np.float64))
        s = scores(q, d, kept.reshape(b * n, l_d))[0]
        out.append(
            {
                "id": name,
                "queries": [encode_matrix(x) for x in xq],
                "documents": [[encode_matrix(x) for x in row] for row in xd],
                "kept": kept.astype(int).tolist(),
                "document_length": l_d,
                "temperature": temperature,
                "mini_batch_size": 2,
                "teacher_scores": teacher.astype(np.float64).tolist(),
                "scores": s.tolist(),
                "losses": {
                    name_: {
                        "value": v,
                        "grad_queries": gq.tolist(),
                        "grad_documents": gd.tolist(),
                    }
                    for name_, (v, gq, gd) in (
                        ("contrastive", c),
                        ("cached_contrastive", c),
                        ("distillation", dd),
                    )
                },
            }
        )
    return out
