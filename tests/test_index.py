"""The index (spec/index.md): k-means centroids, residual codes, search, ids and the Python API.

The oracles here are float64/NumPy restatements of the spec that reuse ``li.maxsim`` only for the
f32 FMA-chain dot product ``<x, y>`` (R-MAXSIM-10), so integer outputs (centroid ids, buckets,
ranks) and the stored floats are compared exactly. The on-disk format and its corruption are
tested in ``test_index_format.py``.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import index as index_oracle

import lateint_ref as li
from lateint_ref import Index, IndexFormatError, InputError

# Each example builds an index (k-means, then files written and fsynced): half the profile's
# examples keeps the file fast under "ci" and still grows with "deep".
builds = settings(max_examples=max(10, settings().max_examples // 2))


# ----------------------------------------------------------------------------- generators


def _collection(seed: int, dim: int, lens: list[int], shape: str) -> list[np.ndarray]:
    """Seeded float32 documents ``[n_j, dim]`` of one of a few shapes (all finite)."""
    rng = np.random.default_rng(seed)
    n = sum(lens)
    if shape == "normal":
        x = rng.standard_normal((n, dim))
    elif shape == "unit":
        x = rng.standard_normal((n, dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    elif shape == "clustered":  # a few tight clusters, as real token embeddings are
        centres = rng.standard_normal((int(rng.integers(1, 6)), dim))
        x = centres[rng.integers(0, len(centres), n)] + 0.05 * rng.standard_normal((n, dim))
    else:  # "few_distinct": many exact duplicates, fewer distinct points than centroids
        points = rng.standard_normal((int(rng.integers(1, 4)), dim))
        x = points[rng.integers(0, len(points), n)]
    x = x.astype(np.float32)
    bounds = np.cumsum([0, *lens])
    return [x[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def collections(
    draw: st.DrawFn, max_docs: int = 40, max_len: int = 20, max_dim: int = 32
) -> list[np.ndarray]:
    """A small collection: 1..max_docs documents of 1..max_len tokens, dim 4..max_dim."""
    seed = draw(st.integers(0, 2**32 - 1))
    dim = draw(st.integers(4, max_dim))
    n_docs = draw(st.integers(1, max_docs))
    lens = draw(st.lists(st.integers(1, max_len), min_size=n_docs, max_size=n_docs))
    shape = draw(st.sampled_from(["normal", "unit", "clustered", "few_distinct"]))
    return _collection(seed, dim, lens, shape)


def _queries(seed: int, dim: int, n: int = 3, max_len: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((int(rng.integers(1, max_len + 1)), dim)).astype(np.float32)
        for _ in range(n)
    ]


@contextmanager
def built(documents: object, ids: object = None, **kwargs: object) -> Iterator[tuple[Index, Path]]:
    """``Index.create`` in a fresh temporary directory; yields ``(index, path)``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        yield Index.create(path, documents, ids, **kwargs), path


def _raises(req: str):
    return pytest.raises(InputError, match=f"^{req}:")


# ----------------------------------------------------------------------------- spec oracles


def dots(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``[n, K] f32``: ``<x_i, c_k>`` as the FMA chain of R-MAXSIM-10 (one-token MaxSim is
    exactly that dot product: one max, one sum, one rounding of an f32 value)."""
    return li.maxsim(np.ascontiguousarray(x[:, None, :]), [row[None, :] for row in c])


def assign(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    return index_oracle.assign(x, c, dots)


def kmeans(x: np.ndarray, k: int, s: int, seed: int, iters: int) -> np.ndarray:
    return index_oracle.kmeans(x, k, s, seed, iters, dots)


def search_oracle(
    index: Index, q: np.ndarray, k: int, nprobe: int, rescore: int, candidates: int = 10**9
) -> tuple[list[int], np.ndarray]:
    return index_oracle.search(
        index, q, k, nprobe, rescore, candidates, dots=dots, maxsim=li.maxsim
    )


default_sizes = index_oracle.default_sizes
sample_positions = index_oracle.sample_positions
fit_buckets = index_oracle.fit_buckets
packed = index_oracle.packed
ranking = index_oracle.ranking


def _same_hits(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert list(x.ids) == list(y.ids)
        np.testing.assert_array_equal(x.scores.view(np.uint32), y.scores.view(np.uint32))


# ----------------------------------------------------------------------------- search


@pytest.mark.spec("R-ISEARCH-2", "R-ISEARCH-5", "R-QUANT-4", "R-SEARCH-1")
@builds
@given(collections(), st.sampled_from([1, 2, 4]), st.integers(0, 2**32 - 1), st.integers(1, 50))
def test_exhaustive_search_is_maxsim_over_decoded(
    documents: list[np.ndarray], nbits: int, seed: int, k: int
) -> None:
    """R-ISEARCH-2, R-QUANT-4, R-ISEARCH-5, R-SEARCH-1: exhaustive search scores every document
    by MaxSim over its decoded vectors (bit for bit, the same kernel), ranked by score desc then
    position; nprobe = K with rescore >= n_docs gives the same results."""
    with built(documents, nbits=nbits, seed=seed) as (index, _):
        n = len(index)
        assert n == len(documents)
        queries = _queries(seed, index.dim)
        full = li.maxsim(queries, index.decode(range(n)))
        hits = index.search(queries, k=k, exhaustive=True)
        assert len(hits) == len(queries)
        for row, h in zip(full, hits, strict=True):
            want = ranking(row, list(range(n)), k)
            assert list(h.ids) == want  # default ids are the positions
            assert h.scores.dtype == np.float32
            np.testing.assert_array_equal(h.scores.view(np.uint32), row[want].view(np.uint32))
        for rescore in (n, n + 7):
            probed = index.search(
                queries, k=k, nprobe=index.n_centroids, candidates=rescore, rescore=rescore
            )
            _same_hits(probed, hits)


@pytest.mark.spec("R-ISEARCH-1")
@builds
@given(
    collections(),
    st.integers(0, 2**32 - 1),
    st.integers(1, 12),
    st.integers(1, 64),
    st.integers(1, 40),
    st.integers(1, 60),
)
def test_search_follows_the_pipeline(
    documents: list[np.ndarray], seed: int, k: int, nprobe: int, rescore: int, candidates: int
) -> None:
    """R-ISEARCH-1: probing with its floor, probe scores, code-only approximate scores,
    rescoring and the final ranking, each with its tie rule, equal a step-by-step restatement."""
    with built(documents, seed=seed) as (index, _):
        nprobe = min(nprobe, index.n_centroids)
        queries = _queries(seed + 1, index.dim)
        kw = {"k": k, "nprobe": nprobe, "candidates": candidates, "rescore": rescore}
        hits = index.search(queries, **kw)
        for q, h in zip(queries, hits, strict=True):
            positions, scores = search_oracle(index, q, k, nprobe, rescore, candidates)
            assert list(h.ids) == positions
            np.testing.assert_array_equal(h.scores.view(np.uint32), scores.view(np.uint32))


@pytest.mark.spec("R-ISEARCH-3")
@builds
@given(collections(max_docs=12), st.integers(0, 2**32 - 1))
def test_default_search_parameters(documents: list[np.ndarray], seed: int) -> None:
    """R-ISEARCH-3: defaults nprobe = min(K, max(8, K // 512)), candidates = max(512, 32k,
    ceil(8 sqrt(n_docs))) and rescore = max(128, 8k); fewer than k results only when fewer
    documents are candidates (every document is, when nprobe >= K); a k reaching the collection
    returns every document, exhaustively scored."""
    with built(documents, seed=seed) as (index, _):
        q = _queries(seed, index.dim, n=1)[0]
        k = 5
        (hit,) = index.search(q, k=k)
        nprobe = min(index.n_centroids, max(8, index.n_centroids // 512))
        candidates = max(512, 32 * k, math.ceil(8 * math.sqrt(len(index))))
        assert index.search_defaults(k) == {
            "nprobe": nprobe,
            "candidates": candidates,
            "rescore": max(128, 8 * k),
        }
        positions, scores = search_oracle(index, q, k, nprobe, max(128, 8 * k), candidates)
        assert list(hit.ids) == positions
        np.testing.assert_array_equal(hit.scores, scores)
        if index.n_centroids <= 8 or k >= len(index):
            assert len(hit.ids) == min(k, len(index))


@pytest.mark.spec("R-ISEARCH-4", "R-MAXSIM-2", "R-MAXSIM-13")
@builds
@given(collections(max_docs=20), st.integers(0, 2**32 - 1), st.booleans())
def test_batched_queries_and_threads(documents: list[np.ndarray], seed: int, ex: bool) -> None:
    """R-ISEARCH-4, R-MAXSIM-2, R-MAXSIM-13: a batch (list of varying lengths, or a 3-D array)
    gives the results of one query at a time, whatever the thread count; float16 queries are
    widened exactly."""
    with built(documents, seed=seed) as (index, _):
        kw = {"k": 7, "exhaustive": ex} if ex else {"k": 7, "nprobe": 1, "rescore": 3}
        queries = _queries(seed, index.dim, n=4)
        batch = index.search(queries, **kw)
        single = [index.search(q, **kw)[0] for q in queries]
        _same_hits(batch, single)
        for threads in (1, 2, 3):
            _same_hits(index.search(queries, threads=threads, **kw), batch)
        cube = np.stack([q[:1] for q in queries] * 2)
        _same_hits(index.search(cube, **kw), [index.search(q, **kw)[0] for q in cube])
        half = [q.astype(np.float16) for q in queries]
        widened = [h.astype(np.float32) for h in half]
        _same_hits(index.search(half, **kw), index.search(widened, **kw))
        assert index.search(np.zeros((0, 2, index.dim), np.float32), **kw) == []


# ----------------------------------------------------------------------------- codes, decode


def _check_codec(index: Index, documents: list[np.ndarray], sample_rows: list[int]) -> None:
    """R-KMEANS-4, R-QUANT-2..8, R-ISEARCH-5 for a built index (format version 4), against the
    original tokens."""
    x, offsets = packed(documents)
    c = index.centroids
    cut, w, bounds, table = index.cutoffs, index.weights, index.bounds, index.table
    n_buckets, nbits, dim = 2**index.nbits, index.nbits, index.dim
    per = 8 // nbits
    assert index.format_version == 4
    assert c.dtype == cut.dtype == w.dtype == bounds.dtype == table.dtype == np.float32
    assert c.shape == (index.n_centroids, dim)
    assert cut.shape == (dim, n_buckets - 1)
    assert w.shape == (dim, n_buckets)
    assert bounds.shape == (dim, 2)
    assert table.shape == (-(-dim * nbits // 8), 256, per)
    # R-QUANT-2: Lloyd-Max buckets of the residuals of the sample tokens (input order, R-KMEANS-2)
    owner = assign(x, c)  # R-KMEANS-4 over the whole collection
    r_input = x - c[owner]
    want_cut, want_w = fit_buckets(r_input[sample_rows], nbits)
    np.testing.assert_array_equal(cut, want_cut)
    np.testing.assert_array_equal(w, want_w)
    # R-QUANT-6: the full bytes' rows refined from the bucket rows; a partial byte keeps them
    start = index_oracle.bucket_table(w, nbits)
    full = dim * nbits // 8
    want_rows = index_oracle.refine_product(r_input[sample_rows], start, nbits)
    np.testing.assert_array_equal(table[:full], want_rows)
    np.testing.assert_array_equal(table[full:], start[full:])
    decoded = index.decode(range(len(index)))
    assert len(decoded) == len(documents)
    residuals = []
    for p, doc in enumerate(documents):
        ids, buckets = index.codes(p)
        mine = owner[offsets[p] : offsets[p + 1]]
        order = np.argsort(mine, kind="stable")  # R-INDEX-5: stored sorted by centroid, stably
        assert ids.dtype == np.uint16
        assert buckets.dtype == np.uint8
        assert buckets.shape == (len(doc), dim)
        np.testing.assert_array_equal(ids, mine[order])
        stored = doc[order]
        r = stored - c[ids]  # R-QUANT-2: f32 subtraction
        residuals.append(r)
        # the code bytes from the stored bits (R-INDEX-5 section 3), per R-QUANT-8 (from R-QUANT-7's
        # nearest rows) and R-QUANT-3
        code = index_oracle.code_bytes_of(buckets, nbits)
        np.testing.assert_array_equal(
            code, index_oracle.encode_along(stored, c[ids], table, cut, nbits)
        )
        # R-QUANT-4: one f32 addition per component, bit for bit
        v = index_oracle.decode_codes(c[ids], code, table)
        assert decoded[p].dtype == np.float32
        np.testing.assert_array_equal(decoded[p].view(np.uint32), v.view(np.uint32))
        np.testing.assert_array_equal(index.decode([p])[0], decoded[p])
        # R-QUANT-5 for a partial byte's components: lo <= r <= hi, lo <= w <= hi, and the bound
        lo = np.concatenate([bounds[:, :1], cut], axis=1)
        hi = np.concatenate([cut, bounds[:, 1:]], axis=1)
        part = np.arange(full * per, dim)[None, :]
        bp = buckets[:, full * per :]
        blo, bhi, wb = lo[part, bp], hi[part, bp], w[part, bp]
        rp = r[:, full * per :]
        assert (blo <= rp).all()
        assert (rp <= bhi).all()
        assert (blo <= wb).all()
        assert (wb <= bhi).all()
    r_all = np.vstack(residuals)
    np.testing.assert_array_equal(bounds[:, 0], r_all.min(axis=0))
    np.testing.assert_array_equal(bounds[:, 1], r_all.max(axis=0))


@pytest.mark.spec(
    "R-INDEX-5",
    "R-ISEARCH-5",
    "R-KMEANS-2",
    "R-KMEANS-4",
    "R-QUANT-2",
    "R-QUANT-3",
    "R-QUANT-4",
    "R-QUANT-5",
    "R-QUANT-6",
    "R-QUANT-7",
    "R-QUANT-8",
)
@builds
@given(collections(), st.sampled_from([1, 2, 4]), st.integers(0, 2**64 - 1))
def test_codes_and_decoding_follow_the_spec(
    documents: list[np.ndarray], nbits: int, seed: int
) -> None:
    """R-KMEANS-4, R-QUANT-2, R-QUANT-3, R-QUANT-4, R-QUANT-5, R-QUANT-6, R-QUANT-7, R-QUANT-8,
    R-ISEARCH-5 with the default sample (S = n_tokens here, so the sample's sorted residuals are
    all of them)."""
    with built(documents, nbits=nbits, seed=seed) as (index, _):
        n_tokens = sum(len(d) for d in documents)
        assert index.nbits == nbits
        assert index.n_centroids == default_sizes(n_tokens)[0]
        _check_codec(index, documents, sample_positions(n_tokens, n_tokens, seed))


def _along_loss(x: np.ndarray, v: np.ndarray, eta: float) -> np.ndarray:
    """R-QUANT-8's objective per token in f64, ``||e||^2 + (eta - 1) (e.x)^2 / ||x||^2``, with
    ``e = x - v``."""
    x, e = x.astype(np.float64), (x - v).astype(np.float64)
    return (e * e).sum(1) + (eta - 1) * (e * x).sum(1) ** 2 / (x * x).sum(1)


@pytest.mark.spec("R-QUANT-7", "R-QUANT-8")
@pytest.mark.parametrize("nbits", [1, 2, 4])
def test_coding_along_the_token_lowers_its_objective(tmp_path: Path, nbits: int) -> None:
    """R-QUANT-8: against R-QUANT-7's nearest rows, the stored codes change some bytes, lower the
    summed objective and the error along the token, at little more squared error; a zero token
    keeps R-QUANT-7's codes; eta = 1 or no pass gives R-QUANT-7's codes."""
    rng = np.random.default_rng(nbits)
    centres = rng.standard_normal((12, 64))
    x = centres[rng.integers(0, 12, 3000)] + 0.6 * rng.standard_normal((3000, 64))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    docs = [x[i : i + 30] for i in range(0, 3000, 30)]
    index = Index.create(tmp_path / "i", docs, nbits=nbits, seed=1, progress=False)
    table, cut, c = index.table, index.cutoffs, index.centroids
    owner_all = np.concatenate([index.codes(p)[0] for p in range(len(index))])
    xs = np.concatenate([d[np.argsort(assign(d, c), kind="stable")] for d in docs])
    stored = index_oracle.code_bytes_of(
        np.concatenate([index.codes(p)[1] for p in range(len(index))]), nbits
    )
    nearest = index_oracle.encode_product(xs - c[owner_all], table, cut, nbits)
    assert (stored != nearest).any()
    v_along = index_oracle.decode_codes(c[owner_all], stored, table)
    v_near = index_oracle.decode_codes(c[owner_all], nearest, table)
    assert _along_loss(xs, v_along, 2.0).sum() < _along_loss(xs, v_near, 2.0).sum()
    par = lambda v: float((((xs - v).astype(np.float64) * xs).sum(1) ** 2).mean())  # noqa: E731
    sq = lambda v: float(((xs - v).astype(np.float64) ** 2).sum(1).mean())  # noqa: E731
    assert par(v_along) < 0.8 * par(v_near)
    assert sq(v_along) < 1.1 * sq(v_near)
    zero = np.zeros((1, 64), np.float32)
    np.testing.assert_array_equal(
        index_oracle.encode_along(zero, c[:1], table, cut, nbits),
        index_oracle.encode_product(zero - c[:1], table, cut, nbits),
    )
    for eta, passes in ((1.0, 2), (2.0, 0)):
        np.testing.assert_array_equal(
            index_oracle.encode_along(xs[:200], c[owner_all[:200]], table, cut, nbits, eta, passes),
            nearest[:200],
        )
    # a zero token added to the index is stored with R-QUANT-7's codes
    index = index.add([zero])
    ids, buckets = index.codes(len(index) - 1)
    np.testing.assert_array_equal(
        index_oracle.code_bytes_of(buckets, nbits),
        index_oracle.encode_product(zero - c[ids], table, cut, nbits),
    )


@pytest.mark.spec(
    "R-INDEX-5",
    "R-ISEARCH-5",
    "R-KMEANS-1",
    "R-KMEANS-2",
    "R-KMEANS-3",
    "R-KMEANS-4",
    "R-QUANT-2",
    "R-QUANT-3",
    "R-QUANT-4",
    "R-QUANT-5",
    "R-QUANT-6",
    "R-QUANT-7",
    "R-QUANT-8",
)
@builds
@given(collections(max_docs=30), st.integers(0, 2**64 - 1), st.data())
def test_sample_and_kmeans_follow_the_spec(
    documents: list[np.ndarray], seed: int, data: st.DataObject
) -> None:
    """R-KMEANS-1, R-KMEANS-2, R-KMEANS-3: the SplitMix64 sample, the initial centroids and the
    spherical Lloyd iterations (empty clusters included) give these centroids, and the quantiles
    come from that sample's residuals (R-QUANT-2)."""
    n_tokens = sum(len(d) for d in documents)
    k = data.draw(st.integers(1, n_tokens), label="n_centroids")
    s = data.draw(st.integers(k, n_tokens), label="sample")
    iters = data.draw(st.integers(0, 4), label="kmeans_iters")
    nbits = data.draw(st.sampled_from([1, 2, 4]), label="nbits")
    kw = {"n_centroids": k, "sample": s, "kmeans_iters": iters, "nbits": nbits, "seed": seed}
    with built(documents, **kw) as (index, _):
        assert index.n_centroids == k
        x, _ = packed(documents)
        want = kmeans(x, k, s, seed, iters)
        np.testing.assert_array_equal(index.centroids, want)
        _check_codec(index, documents, sample_positions(n_tokens, s, seed))


@pytest.mark.spec("R-KMEANS-1")
@pytest.mark.parametrize(
    "n_tokens", [1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 100, 255, 256, 257, 1023, 1024, 1025]
)
def test_default_number_of_centroids(n_tokens: int) -> None:
    """R-KMEANS-1: K = min(n_tokens, 65536, 2^floor(log2(8 sqrt(n_tokens)))), at least 1."""
    want = {1: 1, 2: 2, 5: 5, 16: 16, 17: 17, 63: 32, 64: 64, 1023: 128, 1024: 256, 1025: 256}
    rng = np.random.default_rng(n_tokens)
    x = rng.standard_normal((n_tokens, 4)).astype(np.float32)
    docs = [x[i : i + 3] for i in range(0, n_tokens, 3)]
    with built(docs, kmeans_iters=1) as (index, _):
        assert index.n_centroids == default_sizes(n_tokens)[0]
        if n_tokens in want:
            assert index.n_centroids == want[n_tokens]


@pytest.mark.spec("R-KMEANS-5")
@builds
@given(collections(max_docs=25), st.integers(0, 2**64 - 1))
def test_files_identical_whatever_the_thread_count(documents: list[np.ndarray], seed: int) -> None:
    """R-KMEANS-5: same collection, parameters and seed: every byte of every file is equal with
    1, 2 and all threads."""
    contents = []
    for threads in (1, 2, None):
        with built(documents, seed=seed, threads=threads) as (_, path):
            contents.append({f.name: f.read_bytes() for f in sorted(path.iterdir())})
    assert contents[0]
    assert contents[1] == contents[0]
    assert contents[2] == contents[0]


@pytest.mark.spec("R-KMEANS-2", "R-KMEANS-5")
def test_seed_changes_the_centroids_and_only_the_seed_matters() -> None:
    """R-KMEANS-2, R-KMEANS-5: another seed draws another sample (so other centroids); the same
    seed again gives the same files."""
    docs = _collection(3, 16, [10] * 30, "normal")
    with built(docs, seed=1) as (a, pa), built(docs, seed=2) as (b, _):
        c = Index.create(pa.parent / "again", docs, seed=1)
        pc = pa.parent / "again"
        assert a.n_centroids == b.n_centroids == 128
        assert not np.array_equal(a.centroids, b.centroids)
        np.testing.assert_array_equal(a.centroids, c.centroids)
        for f in pa.iterdir():
            assert (pc / f.name).read_bytes() == f.read_bytes()


def _edge_cases() -> list[tuple[str, list[np.ndarray], dict]]:
    rng = np.random.default_rng(5)
    one = rng.standard_normal((1, 8)).astype(np.float32)
    dup = np.repeat(one, 40, axis=0)
    mixed = _collection(9, 8, [3, 1, 7, 2, 5], "normal")
    return [
        ("one token", [one], {}),
        ("all duplicates", [dup[:10], dup[10:13], dup[13:]], {}),
        ("duplicates, many centroids", [dup[:10], dup[10:]], {"n_centroids": 40}),
        ("all zero", [np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32)], {}),
        ("two points, eight centroids", [np.vstack([one, -one] * 4)], {"n_centroids": 8}),
        ("n_centroids = n_tokens", mixed, {"n_centroids": 18}),
        ("no iterations", mixed, {"kmeans_iters": 0}),
        ("1000 iterations", mixed, {"kmeans_iters": 1000, "n_centroids": 5}),
        ("sample = K", mixed, {"n_centroids": 3, "sample": 3}),
        ("largest seed", mixed, {"seed": 2**64 - 1}),
        ("tiny values", [x * np.float32(1e-30) for x in mixed], {}),
        ("packed form", packed(mixed), {"nbits": 4}),
    ]


@pytest.mark.spec(
    "R-INDEX-5",
    "R-ISEARCH-5",
    "R-KMEANS-1",
    "R-KMEANS-2",
    "R-KMEANS-3",
    "R-KMEANS-4",
    "R-QUANT-2",
    "R-QUANT-3",
    "R-QUANT-4",
    "R-QUANT-5",
    "R-QUANT-6",
    "R-QUANT-7",
    "R-QUANT-8",
)
@pytest.mark.parametrize(
    ("documents", "kwargs"), [c[1:] for c in _edge_cases()], ids=[c[0] for c in _edge_cases()]
)
def test_edge_collections(documents: object, kwargs: dict) -> None:
    """R-KMEANS-1, R-KMEANS-3: duplicates, fewer distinct points than centroids, empty clusters,
    zero vectors, no iterations: create works, the codec follows the spec, and exhaustive search
    is MaxSim over the decoded vectors."""
    docs = documents
    if isinstance(docs, tuple):
        x, o = docs
        docs = [x[a:b] for a, b in itertools.pairwise(o)]
    with built(documents, **kwargs) as (index, _):
        n_tokens = sum(len(d) for d in docs)
        k = kwargs.get("n_centroids", default_sizes(n_tokens)[0])
        s = kwargs.get("sample", default_sizes(n_tokens)[1])
        seed = kwargs.get("seed", 0)
        x, _ = packed(docs)
        np.testing.assert_array_equal(
            index.centroids, kmeans(x, k, s, seed, kwargs.get("kmeans_iters", 8))
        )
        _check_codec(index, docs, sample_positions(n_tokens, s, seed))
        q = _queries(1, index.dim, n=2)
        full = li.maxsim(q, index.decode(range(len(index))))
        for row, h in zip(full, index.search(q, k=len(docs), exhaustive=True), strict=True):
            want = ranking(row, list(range(len(docs))), len(docs))
            assert list(h.ids) == want
            np.testing.assert_array_equal(h.scores, row[want])


# ----------------------------------------------------------------------------- build arguments

DOCS = _collection(11, 8, [3, 5, 2, 4, 6, 1], "normal")  # 21 tokens: default K = 16


@pytest.mark.spec("R-KMEANS-1", "R-KMEANS-2", "R-MAXSIM-13", "R-QUANT-1")
@pytest.mark.parametrize(
    ("kwargs", "req"),
    [
        ({"n_centroids": 0}, "R-KMEANS-1"),
        ({"n_centroids": 22}, "R-KMEANS-1"),
        ({"n_centroids": -1}, "R-KMEANS-1"),
        ({"n_centroids": 2.0}, "R-KMEANS-1"),
        ({"n_centroids": True}, "R-KMEANS-1"),
        ({"n_centroids": "4"}, "R-KMEANS-1"),
        ({"sample": 15}, "R-KMEANS-1"),  # < default K = 16
        ({"sample": 22}, "R-KMEANS-1"),
        ({"sample": 0}, "R-KMEANS-1"),
        ({"n_centroids": 4, "sample": 3}, "R-KMEANS-1"),
        ({"sample": 20.0}, "R-KMEANS-1"),
        ({"sample": True}, "R-KMEANS-1"),
        ({"kmeans_iters": -1}, "R-KMEANS-1"),
        ({"kmeans_iters": 1001}, "R-KMEANS-1"),
        ({"kmeans_iters": 2.0}, "R-KMEANS-1"),
        ({"kmeans_iters": None}, "R-KMEANS-1"),
        ({"kmeans_iters": True}, "R-KMEANS-1"),
        ({"nbits": 0}, "R-QUANT-1"),
        ({"nbits": 3}, "R-QUANT-1"),
        ({"nbits": 8}, "R-QUANT-1"),
        ({"nbits": 2.0}, "R-QUANT-1"),
        ({"nbits": True}, "R-QUANT-1"),
        ({"nbits": None}, "R-QUANT-1"),
        ({"seed": -1}, "R-KMEANS-2"),
        ({"seed": 2**64}, "R-KMEANS-2"),
        ({"seed": 1.0}, "R-KMEANS-2"),
        ({"seed": True}, "R-KMEANS-2"),
        ({"seed": None}, "R-KMEANS-2"),
        ({"threads": 0}, "R-MAXSIM-13"),
        ({"threads": True}, "R-MAXSIM-13"),
    ],
)
def test_bad_build_arguments(kwargs: dict, req: str, tmp_path: Path) -> None:
    """R-KMEANS-1, R-KMEANS-2, R-QUANT-1: out-of-range or non-integer parameters are InputError
    naming the requirement, and nothing is left at the path."""
    path = tmp_path / "index"
    with _raises(req):
        Index.create(path, DOCS, **kwargs)
    assert not path.exists() or not any(path.iterdir())


@pytest.mark.spec(
    "R-MAXSIM-4", "R-MAXSIM-5", "R-MAXSIM-6", "R-MAXSIM-7", "R-MAXSIM-8", "R-MAXSIM-9"
)
@pytest.mark.parametrize(
    ("documents", "req"),
    [
        ([DOCS[0], np.zeros((0, 8), np.float32)], "R-MAXSIM-8"),
        ([DOCS[0].astype(np.float64)], "R-MAXSIM-5"),
        ([DOCS[0], DOCS[1][:, :4]], "R-MAXSIM-7"),
        ([DOCS[0][0]], "R-MAXSIM-6"),
        ([np.where(DOCS[0] > 1, np.nan, DOCS[0]).astype(np.float32)], "R-MAXSIM-9"),
        ([np.full((2, 8), np.inf, np.float32)], "R-MAXSIM-9"),
        ((np.vstack(DOCS[:2]), np.array([0, 5, 3, 8])), "R-MAXSIM-4"),
        ([np.zeros((3, 0), np.float32)], "R-MAXSIM-7"),
    ],
)
def test_bad_documents(documents: object, req: str, tmp_path: Path) -> None:
    """R-MAXSIM-4..9 apply to the collection (spec/index.md section 1)."""
    with _raises(req):
        Index.create(tmp_path / "index", documents)


@pytest.mark.spec("R-KMEANS-1")
def test_empty_collection_is_rejected(tmp_path: Path) -> None:
    """Section 1 and R-KMEANS-1: an index needs at least one token (K >= 1)."""
    with pytest.raises(InputError):
        Index.create(tmp_path / "index", [])


@pytest.mark.spec("R-MAXSIM-5")
def test_float16_documents_are_widened_exactly() -> None:
    """R-MAXSIM-5: float16 documents index as their exact float32 values."""
    half = [d.astype(np.float16) for d in DOCS]
    with built(half) as (a, pa), built([h.astype(np.float32) for h in half]) as (_, pb):
        assert len(a) == len(DOCS)
        for f in pa.iterdir():
            assert (pb / f.name).read_bytes() == f.read_bytes()


# ----------------------------------------------------------------------------- ids


@pytest.mark.spec("R-INDEX-5")
@pytest.mark.parametrize(
    "ids",
    [
        [10, -3, 2**63 - 1, -(2**63), 0, 7],
        ["a", "", "ünïcødé", "日本語 テキスト", "emoji 🙂", "a\x00b"],
        ["x" * 300, "b", "c", "d", "e", "f"],
    ],
    ids=["int", "str", "long str"],
)
def test_ids_round_trip(ids: list, tmp_path: Path) -> None:
    """R-INDEX-5: external ids (ints over the whole i64 range, any str) are stored as given,
    never renumbered, and come back from search, also after reopening."""
    path = tmp_path / "index"
    index = Index.create(path, DOCS, ids)
    assert index.ids == ids
    assert [type(i) for i in index.ids] == [type(i) for i in ids]
    q = _queries(2, 8, n=3)
    hits = index.search(q, k=6, exhaustive=True)
    full = li.maxsim(q, index.decode(range(6)))
    for row, h in zip(full, hits, strict=True):
        assert list(h.ids) == [ids[p] for p in ranking(row, list(range(6)), 6)]
    again = Index.open(path)
    assert again.ids == ids
    assert len(again) == len(index) == 6
    _same_hits(again.search(q, k=6, exhaustive=True), hits)
    _same_hits(again.search(q, k=3, nprobe=2, rescore=4), index.search(q, k=3, nprobe=2, rescore=4))


@pytest.mark.spec("R-INDEX-5")
def test_numpy_integer_ids_are_ints(tmp_path: Path) -> None:
    """R-INDEX-5: ids given as NumPy integers come back as Python ints."""
    index = Index.create(tmp_path / "index", DOCS, list(np.arange(100, 106, dtype=np.int64)))
    assert index.ids == [100, 101, 102, 103, 104, 105]
    assert all(type(i) is int for i in index.ids)


@pytest.mark.spec("R-INDEX-5")
@pytest.mark.parametrize(
    "ids",
    [
        [1, 2, 3, 4, 5, 1],
        ["a", "b", "c", "d", "e", "a"],
        [0, 1, 2, 3, 4],
        [0, 1, 2, 3, 4, 5, 6],
        [0, 1, 2, 3, 4, "5"],
        [0, 1, 2, 3, 4, 2**63],
        [0, 1, 2, 3, 4, -(2**63) - 1],
        [0, 1, 2, 3, 4, 5.0],
        [0, 1, 2, 3, 4, None],
        ["a", "b", "c", "d", "e", b"f"],
        ["a", "b", "c", "d", "e", "\ud800"],
    ],
    ids=[
        "dup int",
        "dup str",
        "too few",
        "too many",
        "mixed",
        "2^63",
        "-2^63-1",
        "float",
        "None",
        "bytes",
        "lone surrogate",
    ],
)
def test_bad_ids(ids: list, tmp_path: Path) -> None:
    """R-INDEX-5: ids are distinct, one per document, all ints in i64 or all (UTF-8) strs."""
    path = tmp_path / "index"
    with _raises("R-INDEX-5"):
        Index.create(path, DOCS, ids)
    assert not path.exists() or not any(path.iterdir())


# ----------------------------------------------------------------------------- create, open


@pytest.mark.spec("R-INDEX-6")
def test_create_refuses_a_non_empty_path(tmp_path: Path) -> None:
    """R-INDEX-6: an existing index, a directory with a user's file, or a file at the path are
    refused with InputError, and left byte for byte as they were."""
    path = tmp_path / "index"
    Index.create(path, DOCS)
    before = {f.name: f.read_bytes() for f in path.iterdir()}
    with _raises("R-INDEX-6"):
        Index.create(path, DOCS[:2], seed=5)
    assert {f.name: f.read_bytes() for f in path.iterdir()} == before

    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with _raises("R-INDEX-6"):
        Index.create(other, DOCS)
    assert [f.name for f in other.iterdir()] == ["notes.txt"]
    assert (other / "notes.txt").read_text() == "keep me"

    file = tmp_path / "file"
    file.write_bytes(b"data")
    with _raises("R-INDEX-6"):
        Index.create(file, DOCS)
    assert file.read_bytes() == b"data"


@pytest.mark.spec("R-INDEX-6")
def test_create_accepts_an_empty_directory_and_str_paths(tmp_path: Path) -> None:
    """R-INDEX-6: an existing empty directory is accepted; so is a str path."""
    path = tmp_path / "empty"
    path.mkdir()
    a = Index.create(path, DOCS)
    b = Index.create(str(tmp_path / "other"), DOCS)
    assert len(a) == len(b) == len(DOCS)
    assert "MANIFEST" in {f.name for f in path.iterdir()}
    assert not [f for f in path.iterdir() if f.name.endswith(".tmp")]  # R-INDEX-6: renamed


@pytest.mark.spec("R-INDEX-6")
def test_stray_files_are_ignored(tmp_path: Path) -> None:
    """Section 4, R-INDEX-6: files the manifest does not name (a crash's ``*.tmp``, a user's
    notes) change nothing on open."""
    path = tmp_path / "index"
    index = Index.create(path, DOCS, metadata={"model": "x"})
    q = _queries(4, 8)
    want = index.search(q, k=4, exhaustive=True)
    stats = index.stats()
    names = [f.name for f in path.iterdir()]
    for name in names:
        (path / f"{name}.tmp").write_bytes(b"\x00garbage" * 9)
    (path / "segment-2.lis").write_bytes(b"LATEINT\x00junk")
    (path / "notes.txt").write_text("hello")
    (path / "subdir").mkdir()
    again = Index.open(path)
    _same_hits(again.search(q, k=4, exhaustive=True), want)
    assert again.stats() == stats
    assert again.metadata == {"model": "x"}


def test_missing_path(tmp_path: Path) -> None:
    """A missing index path is FileNotFoundError (or IndexFormatError: nothing to open)."""
    with pytest.raises((FileNotFoundError, IndexFormatError)):
        Index.open(tmp_path / "nope")


@pytest.mark.spec("R-INDEX-4")
def test_metadata_round_trip(tmp_path: Path) -> None:
    """R-INDEX-4: metadata is the caller's JSON, ``{}`` by default."""
    meta = {"model": "lightonai/GTE-ModernColBERT-v1", "dims": [1, 2.5], "ü": None, "t": True}
    a = Index.create(tmp_path / "a", DOCS, metadata=meta)
    b = Index.create(tmp_path / "b", DOCS)
    assert a.metadata == meta
    assert Index.open(tmp_path / "a").metadata == meta
    assert b.metadata == {}
    assert Index.open(tmp_path / "b").metadata == {}
    with pytest.raises(InputError):
        Index.create(tmp_path / "c", DOCS, metadata={"x": object()})
    with pytest.raises(InputError):
        Index.create(tmp_path / "d", DOCS, metadata={"x": float("nan")})  # not JSON


@pytest.mark.spec("R-INDEX-3", "R-INDEX-6", "R-INDEX-7")
@builds
@given(collections(max_docs=30), st.sampled_from([1, 2, 4]))
def test_stats(documents: list[np.ndarray], nbits: int) -> None:
    """R-INDEX-3: stats count the collection and the bytes of the committed files (the manifest
    and the files it names)."""
    with built(documents, nbits=nbits) as (index, path):
        st_ = index.stats()
        n_tokens = sum(len(d) for d in documents)
        assert st_["n_docs"] == len(index) == len(documents)
        assert st_["n_tokens"] == n_tokens
        assert st_["n_centroids"] == index.n_centroids
        assert st_["dim"] == index.dim == documents[0].shape[1]
        assert st_["nbits"] == nbits
        files = sorted(f.name for f in path.iterdir() if f.name != "LOCK")  # R-INDEX-6: the lock
        assert len(files) == 3  # R-INDEX-7: the manifest, one codec, one segment
        total = sum((path / f).stat().st_size for f in files)
        assert st_["bytes_on_disk"] == total
        assert st_["bytes_per_token"] == pytest.approx(total / n_tokens, rel=1e-12)
        assert Index.open(path).stats() == st_


# ----------------------------------------------------------------------------- search arguments

ERR_DOCS = _collection(12, 8, [4, 2, 6, 3, 5, 1, 2, 7], "unit")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    return Index.create(tmp_path_factory.mktemp("idx") / "index", ERR_DOCS, n_centroids=6)


Q8 = np.random.default_rng(3).standard_normal((3, 8)).astype(np.float32)


@pytest.mark.spec(
    "R-ISEARCH-4",
    "R-MAXSIM-2",
    "R-MAXSIM-5",
    "R-MAXSIM-6",
    "R-MAXSIM-7",
    "R-MAXSIM-8",
    "R-MAXSIM-9",
)
@pytest.mark.parametrize(
    ("queries", "req"),
    [
        (Q8[:, :4], "R-MAXSIM-7"),
        ([Q8, Q8[:, :5]], "R-MAXSIM-7"),
        (np.zeros((3, 9), np.float32), "R-MAXSIM-7"),
        (np.where(Q8 > 0.5, np.nan, Q8).astype(np.float32), "R-MAXSIM-9"),
        (np.where(Q8 > 0.5, np.inf, Q8).astype(np.float32), "R-MAXSIM-9"),
        (np.where(Q8 > 0.5, -np.inf, Q8).astype(np.float32), "R-MAXSIM-9"),
        (np.zeros((0, 8), np.float32), "R-MAXSIM-8"),
        ([Q8, np.zeros((0, 8), np.float32)], "R-MAXSIM-8"),
        (np.zeros((2, 0, 8), np.float32), "R-MAXSIM-8"),
        (Q8.astype(np.float64), "R-MAXSIM-5"),
        (Q8.astype(np.int32), "R-MAXSIM-5"),
        (Q8.tolist(), "R-MAXSIM-5"),
        (Q8[0], "R-MAXSIM-6"),
        (Q8[None, None], "R-MAXSIM-6"),
        ([Q8[None]], "R-MAXSIM-6"),
    ],
)
def test_bad_queries(small_index: Index, queries: object, req: str) -> None:
    """R-ISEARCH-4: queries take the forms and checks of R-MAXSIM-2, -5..9; dim must be the
    index's, whatever the search mode."""
    for kw in ({}, {"exhaustive": True}, {"nprobe": 6, "rescore": 1}):
        with _raises(req):
            small_index.search(queries, **kw)


@pytest.mark.spec("R-ISEARCH-3", "R-MAXSIM-13", "R-SEARCH-2")
@pytest.mark.parametrize(
    ("kwargs", "req"),
    [
        ({"k": 0}, "R-SEARCH-2"),
        ({"k": -1}, "R-SEARCH-2"),
        ({"k": 1.5}, "R-SEARCH-2"),
        ({"k": 2.0}, "R-SEARCH-2"),
        ({"k": True}, "R-SEARCH-2"),
        ({"k": None}, "R-SEARCH-2"),
        ({"nprobe": 0}, "R-ISEARCH-3"),
        ({"nprobe": 7}, "R-ISEARCH-3"),  # K + 1
        ({"nprobe": -1}, "R-ISEARCH-3"),
        ({"nprobe": 2.0}, "R-ISEARCH-3"),
        ({"nprobe": True}, "R-ISEARCH-3"),
        ({"rescore": 0}, "R-ISEARCH-3"),
        ({"rescore": -3}, "R-ISEARCH-3"),
        ({"rescore": 4.0}, "R-ISEARCH-3"),
        ({"rescore": True}, "R-ISEARCH-3"),
        ({"candidates": 0}, "R-ISEARCH-3"),
        ({"candidates": -2}, "R-ISEARCH-3"),
        ({"candidates": 3.0}, "R-ISEARCH-3"),
        ({"candidates": False}, "R-ISEARCH-3"),
        ({"threads": 0}, "R-MAXSIM-13"),
        ({"threads": 1025}, "R-MAXSIM-13"),
        ({"threads": 2.0}, "R-MAXSIM-13"),
    ],
)
def test_bad_search_arguments(small_index: Index, kwargs: dict, req: str) -> None:
    """R-ISEARCH-3: k >= 1 (R-SEARCH-2), nprobe in 1..=K, rescore >= 1, all integers."""
    with _raises(req):
        small_index.search(Q8, **kwargs)


@pytest.mark.spec("R-ISEARCH-3")
def test_budgets_never_below_k(tmp_path: Path) -> None:
    """R-ISEARCH-3: candidates or rescore below k are raised to k, and a k at or above the live
    documents returns each of them (deleted ones excluded, an allow-list honoured), as the
    exhaustive search ranks them; below that, k results whenever k documents are candidates."""
    rng = np.random.default_rng(7)
    docs = [rng.standard_normal((int(n), 8)).astype(np.float32) for n in rng.integers(1, 6, 300)]
    index = Index.create(tmp_path / "i", docs, n_centroids=64, seed=1)
    q = rng.standard_normal((4, 8)).astype(np.float32)
    (full,) = index.search(q, k=300, exhaustive=True)
    for k in (300, 301, 5000):
        (h,) = index.search(q, k=k)
        assert h.ids == full.ids
        assert np.array_equal(h.scores, full.scores)
    (h,) = index.search(q, k=40, nprobe=64, candidates=1, rescore=1)
    assert len(set(h.ids)) == 40  # every document a candidate: 40 kept and rescored, not 1
    assert list(h.scores) == sorted(h.scores, reverse=True)
    index = index.delete(list(range(0, 300, 3)))
    (h,) = index.search(q, k=200)
    assert sorted(h.ids) == index.live_ids
    (e,) = index.search(q, k=200, exhaustive=True)
    assert h.ids == e.ids
    assert np.array_equal(h.scores, e.scores)
    allow = index.live_ids[::7]
    (h,) = index.search(q, k=len(allow), allow=allow)
    assert sorted(h.ids) == sorted(allow)


@pytest.mark.spec("R-ISEARCH-3")
def test_search_argument_limits(small_index: Index) -> None:
    """R-ISEARCH-3: the extreme valid values work: nprobe = 1 and K, rescore = 1, huge k."""
    n = len(small_index)
    (h,) = small_index.search(Q8, k=2**62, exhaustive=True)
    assert len(h.ids) == n
    (h,) = small_index.search(Q8, k=2**62, nprobe=6, rescore=2**62)
    assert len(h.ids) == n
    (h,) = small_index.search(Q8, k=3, nprobe=1, rescore=1)
    assert len(h.ids) == 3  # rescore below k is raised to k


@pytest.mark.spec("R-ISEARCH-5")
def test_decode_and_codes_reject_bad_positions(small_index: Index) -> None:
    """R-ISEARCH-5: positions are document numbers 0..n_docs-1."""
    n = len(small_index)
    assert small_index.decode([]) == []
    assert len(small_index.decode([n - 1, 0, n - 1])) == 3
    for bad in ([n], [0, n + 5], [2**70], [1.0], ["0"]):
        with pytest.raises(InputError):
            small_index.decode(bad)
    for bad in (n, 2**70, 1.0, "0", None):
        with pytest.raises(InputError):
            small_index.codes(bad)


def test_index_errors_are_not_value_errors() -> None:
    """Spec/index.md: IndexFormatError is a LateIntError, not a ValueError."""
    assert issubclass(IndexFormatError, li.LateIntError)
    assert not issubclass(IndexFormatError, ValueError)
    assert li.Index is Index
