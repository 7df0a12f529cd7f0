"""Reference oracle for spec/index.md: k-means (R-KMEANS-n), residual buckets (R-QUANT-n) and
the search pipeline (R-ISEARCH-1) step by step, in plain NumPy and Python: slow, readable, and
usable by any implementation that wants to check its own index against the spec.

The dot products of k-means and search are those of the float32 FMA chain (R-MAXSIM-10), which
NumPy cannot reproduce bit for bit; the functions that need them take ``dots(x [n, dim] f32,
c [K, dim] f32) -> [n, K] f32``: pass your own kernel's dot products (for lateint-ref, one-token
MaxSim is exactly that dot product: ``tests/test_index.py`` shows how).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

MASK64 = 2**64 - 1
Dots = Callable[[np.ndarray, np.ndarray], np.ndarray]


def assign(x: np.ndarray, c: np.ndarray, dots: Dots, version: int = 3) -> np.ndarray:
    """R-KMEANS-4: ``[n]`` argmax of ``<x, c_k>``, ties to the lowest ``k``; R-KMEANS-6 instead
    for a codec of format ``version`` with ``K >= COARSE_MIN_K``."""
    if coarse(version, len(c)):
        return assign_coarse(x, c, dots)[0]
    return np.argmax(dots(x, c), axis=1)


COARSE_FROM_VERSION = 4  # R-KMEANS-6
COARSE_MIN_K = 4096  # R-KMEANS-6: K_c
GROUP_SIZE = 64  # R-KMEANS-6: G = max(1, floor(K / 64))
PROBE_GROUPS = 16  # R-KMEANS-6: P
GROUP_ITERS = 4  # R-KMEANS-6


def coarse(version: int, k: int) -> bool:
    """R-KMEANS-6: whether a codec of format ``version`` with ``k`` centroids assigns coarsely."""
    return version >= COARSE_FROM_VERSION and k >= COARSE_MIN_K


def groups(c: np.ndarray, g: int, dots: Dots) -> tuple[np.ndarray, np.ndarray]:
    """R-KMEANS-6: ``(group of each centroid [K], centres [g, dim] f32)`` of the centroids
    ``c [K, dim]``: centre ``j`` starts as ``c[floor(j K / g)]``; ``GROUP_ITERS`` times, every
    centroid goes to its best centre (ties to the lowest) and every centre with members becomes
    the normalised f64 sum of its members in index order (a zero sum or no member leaves it);
    the groups are a last such assignment."""
    k = len(c)
    g = min(max(g, 1), k)
    h = c[[j * k // g for j in range(g)]].copy()
    for _ in range(GROUP_ITERS):
        of = np.argmax(dots(c, h), axis=1)
        for j in range(g):
            own = np.flatnonzero(of == j)
            if len(own):
                total = np.zeros(c.shape[1])
                for i in own:  # sequential, in index order
                    total += c[i].astype(np.float64)
                if np.any(total != 0):
                    h[j] = normalize(total)
    return np.argmax(dots(c, h), axis=1), h


def assign_coarse(
    x: np.ndarray,
    c: np.ndarray,
    dots: Dots,
    g: int | None = None,
    p: int = PROBE_GROUPS,
) -> tuple[np.ndarray, np.ndarray]:
    """R-KMEANS-6: ``(centroid of each token [n], group of each centroid [K])``: a token scores
    the centres of the groups with members, keeps the ``p`` best (greater product first, ties to
    the lower group; all of them when fewer) and takes the best centroid among their members
    (ties to the lowest ``k``). ``g`` defaults to ``max(1, K // GROUP_SIZE)``."""
    k = len(c)
    of, h = groups(c, max(1, k // GROUP_SIZE) if g is None else g, dots)
    live = sorted(set(of.tolist()))
    sim = dots(x, h[live])
    out = np.zeros(len(x), np.int64)
    for t in range(len(x)):
        order = sorted(range(len(live)), key=lambda i: (-float(sim[t, i]), i))[:p]
        chosen = {live[i] for i in order}
        cand = np.array([j for j in range(k) if of[j] in chosen])
        out[t] = cand[np.argmax(dots(x[t : t + 1], c[cand])[0])]
    return out, of


def default_sizes(n_tokens: int) -> tuple[int, int]:
    """R-KMEANS-1: ``(K, S)``; ``2^floor(log2(8 sqrt(n)))`` is the largest power of two ``p``
    with ``p^2 <= 64 n`` (integers, no rounding)."""
    p = 1
    while (2 * p) ** 2 <= 64 * n_tokens:
        p *= 2
    k = max(1, min(n_tokens, 65536, p))
    return k, min(n_tokens, max(32 * k, 4096))


def sample_positions(n_tokens: int, s: int, seed: int) -> list[int]:
    """R-KMEANS-2: the first ``s`` entries of the SplitMix64 partial Fisher-Yates shuffle."""
    a = list(range(n_tokens))
    state = seed
    for i in range(s):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        j = i + z % (n_tokens - i)
        a[i], a[j] = a[j], a[i]
    return a[:s]


def normalize(v: np.ndarray) -> np.ndarray:
    """R-KMEANS-3: ``v / ||v||`` in float64 rounded to float32; zero stays zero."""
    v = np.asarray(v, np.float64)
    norm = math.sqrt(float(np.dot(v, v)))
    return (v / norm if norm > 0 else v).astype(np.float32)


def kmeans(
    x: np.ndarray, k: int, s: int, seed: int, iters: int, dots: Dots, version: int = 3
) -> np.ndarray:
    """R-KMEANS-2/3: ``[k, dim] f32`` centroids of the tokens ``x [n, dim]``, each iteration
    assigning by the rule of a codec of format ``version`` (R-KMEANS-4 or R-KMEANS-6)."""
    points = x[sample_positions(len(x), s, seed)]
    c = np.stack([normalize(p) for p in points[:k]])
    for _ in range(iters):
        sim = dots(points, c)
        owner = assign(points, c, dots, version)
        best = sim[np.arange(s), owner]
        sums = np.zeros((k, x.shape[1]))
        np.add.at(sums, owner, points.astype(np.float64))  # sequential, in sample order
        counts = np.bincount(owner, minlength=k)
        new = np.stack([normalize(sums[j]) for j in range(k)])
        empty = [j for j in range(k) if counts[j] == 0]
        worst = sorted(range(s), key=lambda i: (float(best[i]), i))
        for j, i in zip(empty, worst, strict=False):
            new[j] = normalize(points[i])
        c = new
    return c


LLOYD_ITERS = 16  # R-QUANT-2


def bucket_means(v: np.ndarray, prefix: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """R-QUANT-2: mean of the sorted values in each bucket ``(cut[j-1], cut[j]]`` (f64 prefix
    sums, rounded to f32); an empty bucket takes ``cut[max(j - 1, 0)]``."""
    ends = [*np.searchsorted(v, cut, side="right").tolist(), len(v)]
    w, start = [], 0
    for j, end in enumerate(ends):
        if end > start:
            w.append(np.float32((prefix[end] - prefix[start]) / (end - start)))
        else:
            w.append(cut[max(j - 1, 0)])
        start = max(start, end)
    return np.array(w, dtype=np.float32)


def fit_buckets(residuals: np.ndarray, nbits: int) -> tuple[np.ndarray, np.ndarray]:
    """R-QUANT-2: ``(cut [dim, B-1], w [dim, B])`` from the sample residuals ``[S, dim]``:
    quantile cutoffs, ``LLOYD_ITERS`` rounds of (bucket means, midpoint cutoffs), final means."""
    n_buckets = 2**nbits
    s = len(residuals)
    cuts, weights = [], []
    for column in np.sort(residuals, axis=0).T:
        prefix = np.concatenate([[0.0], np.cumsum(column.astype(np.float64))])
        cut = column[np.minimum(s - 1, (np.arange(1, n_buckets) * s) // n_buckets)]
        for _ in range(LLOYD_ITERS):
            w = bucket_means(column, prefix, cut).astype(np.float64)
            cut = ((w[:-1] + w[1:]) / 2).astype(np.float32)
        cuts.append(cut)
        weights.append(bucket_means(column, prefix, cut))
    return np.array(cuts, dtype=np.float32), np.array(weights, dtype=np.float32)


PRODUCT_ITERS = 8  # R-QUANT-6
PRODUCT_SAMPLE = 65536  # R-QUANT-6
ANISO_WEIGHT = 2.0  # R-QUANT-8: eta of every new codec
ANISO_PASSES = 2  # R-QUANT-8: passes of every new codec


def bucket_table(w: np.ndarray, nbits: int) -> np.ndarray:
    """R-QUANT-4: ``[code_bytes, 256, 8 // nbits]`` rows of the bucket values ``w [dim, B]``:
    row ``u`` of byte ``p`` holds ``w[d][(u >> (i * nbits)) mod B]`` for its components ``d =
    p * per + i`` (zero past ``dim``)."""
    dim, per = w.shape[0], 8 // nbits
    n_bytes = -(-dim * nbits // 8)
    t = np.zeros((n_bytes, 256, per), np.float32)
    u = np.arange(256)
    for d in range(dim):
        p, i = divmod(d, per)
        t[p, :, i] = w[d][(u >> (i * nbits)) % 2**nbits]
    return t


def nearest_rows(r: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """R-QUANT-7: for each ``r [n, per]``, the row ``u`` of ``rows [256, per]`` of least
    ``n_u + sum_i (-2 r_i) * T[u][i]`` in f32 (``n_u = sum_i T[u][i]^2``, both in component
    order, one rounding per product and per sum), ties to the lower row."""
    rows = rows.astype(np.float32)
    norms = np.zeros(len(rows), np.float32)
    for i in range(rows.shape[1]):
        norms = norms + rows[:, i] * rows[:, i]
    acc = np.broadcast_to(norms, (len(r), len(rows))).copy()
    for i in range(r.shape[1]):
        a = np.float32(-2.0) * r[:, i : i + 1].astype(np.float32)
        acc = acc + a * rows[None, :, i]
    return acc.argmin(axis=1)


def refine_product(sample_residuals: np.ndarray, table: np.ndarray, nbits: int) -> np.ndarray:
    """R-QUANT-6: the product rows ``[full_bytes, 256, per]``, from the bucket table, refined
    by Lloyd iterations on the first ``PRODUCT_SAMPLE`` sample residuals (sample order)."""
    dim, per = sample_residuals.shape[1], 8 // nbits
    x = sample_residuals[:PRODUCT_SAMPLE]
    full = dim * nbits // 8
    out = table[:full].copy()
    for p in range(full):
        sub = x[:, p * per : (p + 1) * per]
        rows = out[p]
        for _ in range(PRODUCT_ITERS):
            a = nearest_rows(sub, rows)
            sums = np.zeros((256, per))
            np.add.at(sums, a, sub.astype(np.float64))
            counts = np.bincount(a, minlength=256)
            hit = counts > 0
            rows[hit] = (sums[hit] / counts[hit, None]).astype(np.float32)
    return out


def encode_product(r: np.ndarray, table: np.ndarray, cut: np.ndarray, nbits: int) -> np.ndarray:
    """R-QUANT-7: the code bytes ``[n, code_bytes] uint8`` of residuals ``r [n, dim]`` with the
    version 3 table: each full byte its nearest row, a last partial byte its buckets
    (R-QUANT-3, packed least significant bit first)."""
    dim, per = r.shape[1], 8 // nbits
    full = dim * nbits // 8
    out = np.zeros((len(r), table.shape[0]), np.uint8)
    for p in range(full):
        out[:, p] = nearest_rows(r[:, p * per : (p + 1) * per], table[p])
    for d in range(full * per, dim):
        b = (cut[d][None, :] < r[:, d : d + 1]).sum(axis=1)
        out[:, d // per] |= (b << ((d % per) * nbits)).astype(np.uint8)
    return out


def _first_least(values: np.ndarray) -> np.ndarray:
    """Per row of ``values [n, 256]``: the first least (NaN never least; none finite: 0)."""
    finite = np.where(np.isfinite(values), values, np.float32(np.inf))
    return finite.argmin(axis=1)


def encode_along(
    x: np.ndarray,
    c: np.ndarray,
    table: np.ndarray,
    cut: np.ndarray,
    nbits: int,
    eta: float = ANISO_WEIGHT,
    passes: int = ANISO_PASSES,
) -> np.ndarray:
    """R-QUANT-8: the code bytes ``[n, code_bytes] uint8`` of tokens ``x [n, dim]`` with their
    centroid rows ``c [n, dim]`` and the version 4 table: R-QUANT-7's codes, then ``passes``
    passes of coordinate descent on the squared error plus ``eta - 1`` times the squared error
    along the token. Every operation in f32, one rounding each, in the order of the spec."""
    x = x.astype(np.float32)
    r = x - c.astype(np.float32)
    out = encode_product(r, table, cut, nbits)
    dim, per = x.shape[1], 8 // nbits
    full, n = dim * nbits // 8, len(x)
    rows = np.arange(n)
    dist = np.empty((full, n, 256), np.float32)
    along = np.empty((full, n, 256), np.float32)
    for p in range(full):
        t = table[p].astype(np.float32)
        norms = np.zeros(256, np.float32)
        for i in range(per):
            norms = norms + t[:, i] * t[:, i]
        acc = np.broadcast_to(norms, (n, 256)).copy()
        a = np.zeros(n, np.float32)
        for i in range(per):
            d = p * per + i
            acc = acc + (np.float32(-2.0) * r[:, d : d + 1]) * t[None, :, i]
            a = a + r[:, d] * x[:, d]
        e = np.broadcast_to(a[:, None], (n, 256)).copy()
        for i in range(per):
            e = e - t[None, :, i] * x[:, p * per + i : p * per + i + 1]
        dist[p], along[p] = acc, e
    norm = np.zeros(n, np.float32)
    for d in range(dim):
        norm = norm + x[:, d] * x[:, d]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.float32(eta - 1.0) / norm
    active = np.isfinite(w) & (w > 0)
    codes = out[:, :full].astype(np.int64)
    total = np.zeros(n, np.float32)
    for p in range(full):
        total = total + along[p][rows, codes[:, p]]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(passes):
            for p in range(full):
                o = total - along[p][rows, codes[:, p]]
                s = o[:, None] + along[p]
                cost = dist[p] + w[:, None] * (s * s)
                codes[active, p] = _first_least(cost)[active]
                total = o + along[p][rows, codes[:, p]]
    out[:, :full] = codes.astype(np.uint8)
    return out


def code_bytes_of(buckets: np.ndarray, nbits: int) -> np.ndarray:
    """R-INDEX-5 section 3: the code bytes ``[n, code_bytes]`` whose bits, unpacked per
    component least significant first, are ``buckets [n, dim]``."""
    per = 8 // nbits
    dim = buckets.shape[1]
    out = np.zeros((len(buckets), -(-dim * nbits // 8)), np.int64)
    for d in range(dim):
        out[:, d // per] |= buckets[:, d].astype(np.int64) << ((d % per) * nbits)
    return out


def decode_codes(centroid_rows: np.ndarray, code: np.ndarray, table: np.ndarray) -> np.ndarray:
    """R-QUANT-4: ``c + T[p][u_p][i]`` per component, one f32 addition."""
    dim, per = centroid_rows.shape[1], table.shape[2]
    d = np.arange(dim)
    return centroid_rows + table[d // per, code[:, d // per], d % per]


FAR_QUANTILE_PERCENT = 99  # R-INDEX-18


def squared_residual_norms(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """R-INDEX-18: ``[n]`` squared residual norms of tokens ``x [n, dim] f32`` with their
    centroids ``c [n, dim] f32``: f32 residuals, squared and summed in f64 in component order
    (``cumsum`` adds sequentially)."""
    r = (np.asarray(x, np.float32) - np.asarray(c, np.float32)).astype(np.float64)
    if r.shape[1] == 0:
        return np.zeros(len(r))
    return np.cumsum(r * r, axis=1)[:, -1]


def far_threshold(sample_norms: np.ndarray) -> float:
    """R-INDEX-18: ``tau^2``, the sample's squared norm of rank ``min(S - 1, floor(S * 99 /
    100))`` in ascending order."""
    s = len(sample_norms)
    return float(np.sort(np.asarray(sample_norms, np.float64))[min(s - 1, s * 99 // 100)])


def packed(documents: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.cumsum([0, *(len(d) for d in documents)])
    return np.vstack(documents), offsets


def ranking(scores: np.ndarray, positions: list[int], k: int) -> list[int]:
    """Positions by (score desc, position asc), the first ``k``."""
    return sorted(positions, key=lambda p: (-float(scores[p]), p))[:k]


def f32_sum(values: list) -> float:
    """R-ISEARCH-1: f32 values added in f64 in token order, rounded once to f32."""
    total = 0.0
    for v in values:
        total += float(v)
    return float(np.float32(total))


def search(
    index: Any,
    q: np.ndarray,
    k: int,
    nprobe: int,
    rescore: int,
    candidates: int = 10**9,
    *,
    dots: Dots,
    maxsim: Callable[[np.ndarray, list[np.ndarray]], np.ndarray],
) -> tuple[list[int], np.ndarray]:
    """R-ISEARCH-1 step by step: ``(positions, f32 scores)`` best first.

    ``index`` is read through ``len(index)``, ``index.centroids [K, dim] f32``,
    ``index.codes(p) -> (centroid ids [n], buckets [n, dim])`` and ``index.decode(positions) ->
    [[n, dim] f32, ...]``; ``maxsim(q, docs) -> [1, n_docs] f32`` is exact MaxSim (R-MAXSIM-1).
    R-ISEARCH-3: the budgets are never below ``k``, and a ``k`` reaching the collection (no
    document deleted) ranks every document exactly."""
    candidates, rescore = max(candidates, k), max(rescore, k)
    if k >= len(index):
        every = list(range(len(index)))
        exact = maxsim(q, index.decode(every))[0]
        best = ranking(exact, every, k)
        return best, exact[best]
    c = index.centroids
    s = dots(q, c)  # step 1: [q_len, K]
    codes = [set(index.codes(p)[0].tolist()) for p in range(len(index))]
    order = [np.argsort(-row, kind="stable").tolist() for row in s]  # step 2
    probes = [o[:nprobe] for o in order]
    floors = [s[i, o[nprobe]] if nprobe < len(o) else -np.inf for i, o in enumerate(order)]
    found = [p for p in range(len(index)) if any(codes[p] & set(pr) for pr in probes)]
    probe_score = {
        p: f32_sum(
            max([floors[i], *(s[i, kk] for kk in probes[i] if kk in codes[p])])
            for i in range(len(q))
        )
        for p in found
    }
    kept = sorted(found, key=lambda p: (-probe_score[p], p))[:candidates]
    approx = {p: f32_sum(s[i, sorted(codes[p])].max() for i in range(len(q))) for p in kept}
    short = sorted(kept, key=lambda p: (-approx[p], p))[:rescore]  # steps 3-4
    if not short:
        return [], np.zeros(0, np.float32)
    exact = maxsim(q, index.decode(short))[0]
    order = sorted(range(len(short)), key=lambda i: (-float(exact[i]), short[i]))[:k]  # step 5
    return [short[i] for i in order], exact[order]
