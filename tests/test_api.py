"""The accepted input forms (R-MAXSIM-2, R-MAXSIM-3, R-MAXSIM-5) and the Documents object."""

from __future__ import annotations

import numpy as np
import oracle
import pytest

import lateint_ref as li

RNG = np.random.default_rng(11)


def _unit(n: int, dim: int = 24) -> np.ndarray:
    x = RNG.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


QUERIES = [_unit(n) for n in (32, 7, 19)]
DOCS = [_unit(n) for n in (5, 180, 1, 64, 33)]


@pytest.mark.spec("R-MAXSIM-3")
def test_all_document_forms_agree() -> None:
    """R-MAXSIM-3: list, packed pair, Documents (f32) give the same bits."""
    base = li.maxsim(QUERIES, DOCS)
    assert base.shape == (3, 5)
    assert base.dtype == np.float32
    vectors = np.vstack(DOCS)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in DOCS])])
    for offsets_form in (offsets, offsets.astype(np.int32), offsets.tolist()):
        np.testing.assert_array_equal(li.maxsim(QUERIES, (vectors, offsets_form)), base)
    np.testing.assert_array_equal(li.maxsim(QUERIES, tuple(DOCS)), base)
    np.testing.assert_array_equal(li.maxsim(QUERIES, li.Documents(DOCS)), base)
    np.testing.assert_array_equal(li.maxsim(QUERIES, li.Documents((vectors, offsets))), base)


@pytest.mark.spec("R-MAXSIM-2", "R-MAXSIM-3")
def test_three_dimensional_forms() -> None:
    """R-MAXSIM-2, R-MAXSIM-3: uniform-length batches as 3-D arrays (every token real)."""
    qs = np.stack([_unit(8) for _ in range(3)])
    ds = np.stack([_unit(6) for _ in range(4)])
    want = li.maxsim(list(qs), list(ds))
    np.testing.assert_array_equal(li.maxsim(qs, ds), want)
    np.testing.assert_array_equal(li.maxsim(qs, li.Documents(ds)), want)


@pytest.mark.spec("R-MAXSIM-2")
def test_single_query_gives_one_row() -> None:
    """R-MAXSIM-2: a single 2-D query gives a [1, n_docs] matrix."""
    got = li.maxsim(QUERIES[0], DOCS)
    assert got.shape == (1, len(DOCS))
    np.testing.assert_array_equal(got[0], li.maxsim(QUERIES, DOCS)[0])


@pytest.mark.spec("R-MAXSIM-2", "R-MAXSIM-3")
def test_empty_collections() -> None:
    """R-MAXSIM-2, R-MAXSIM-3: zero queries or zero documents are valid and give empty results."""
    assert li.maxsim([], DOCS).shape == (0, len(DOCS))
    assert li.maxsim(QUERIES, []).shape == (len(QUERIES), 0)
    scores, indices = li.search_exact(QUERIES, [], k=5)
    assert scores.shape == indices.shape == (len(QUERIES), 0)
    assert li.maxsim_pairwise([], []).shape == (0,)
    empty = (np.zeros((0, 24), np.float32), np.array([0]))
    assert li.maxsim(QUERIES, empty).shape == (3, 0)


@pytest.mark.spec("R-MAXSIM-5")
def test_float16_is_widened_exactly() -> None:
    """R-MAXSIM-5: float16 inputs score as their exact float32 values."""
    q16 = [q.astype(np.float16) for q in QUERIES]
    d16 = [d.astype(np.float16) for d in DOCS]
    want = li.maxsim([q.astype(np.float32) for q in q16], [d.astype(np.float32) for d in d16])
    np.testing.assert_array_equal(li.maxsim(q16, d16), want)
    np.testing.assert_array_equal(li.maxsim(q16, li.Documents(d16)), want)


@pytest.mark.spec("R-MAXSIM-5")
def test_big_endian_float32_is_accepted() -> None:
    """R-MAXSIM-5: float32 in either byte order."""
    swapped = [d.astype(">f4") for d in DOCS]
    np.testing.assert_array_equal(li.maxsim(QUERIES, swapped), li.maxsim(QUERIES, DOCS))


@pytest.mark.spec("R-MAXSIM-2", "R-MAXSIM-3")
def test_non_contiguous_inputs() -> None:
    """Strided views are accepted and give the same scores as their copies."""
    wide = _unit(40, 48)
    q = wide[::2, ::2]
    docs = [wide[1::3, ::2], wide[5:9, 1::2]]
    want = li.maxsim(np.ascontiguousarray(q), [np.ascontiguousarray(d) for d in docs])
    np.testing.assert_array_equal(li.maxsim(q, docs), want)


@pytest.mark.spec("R-MAXSIM-11")
def test_documents_object() -> None:
    """R-MAXSIM-11: the Documents object and its attributes."""
    docs = li.Documents(DOCS)
    assert len(docs) == 5
    assert docs.dim == 24
    assert docs.storage == "float32"
    np.testing.assert_array_equal(docs.lengths, [5, 180, 1, 64, 33])
    assert docs.n_tokens == 283
    assert docs.nbytes == 283 * 24 * 4
    half = li.Documents(DOCS, storage="bfloat16")
    assert half.nbytes == 283 * 24 * 2
    assert "bfloat16" in repr(half)


@pytest.mark.spec("R-MAXSIM-10", "R-MAXSIM-11")
def test_bfloat16_is_exact_on_rounded_inputs() -> None:
    """R-MAXSIM-11: bfloat16 storage scores the rounded inputs (bound of R-MAXSIM-10 on them)."""
    docs = li.Documents(DOCS, storage="bfloat16")
    got = li.maxsim(QUERIES, docs).astype(np.float64)
    rq = [oracle.round_bf16(q) for q in QUERIES]
    rd = [oracle.round_bf16(d) for d in DOCS]
    want = oracle.maxsim(rq, rd)
    bound = np.array([[oracle.bound_f32(q, d) + len(q) * 24 * 2.0**-125 for d in rd] for q in rq])
    assert (np.abs(got - want) <= bound).all()


@pytest.mark.spec("R-MAXSIM-12")
def test_pairwise_is_the_diagonal() -> None:
    """R-MAXSIM-12: bit-identical to the diagonal of the matrix, in every document form."""
    qs, ds = QUERIES, DOCS[:3]
    diag = np.diag(li.maxsim(qs, ds))
    np.testing.assert_array_equal(li.maxsim_pairwise(qs, ds), diag)
    np.testing.assert_array_equal(li.maxsim_pairwise(qs, li.Documents(ds)), diag)


@pytest.mark.spec("R-SEARCH-1")
def test_search_k_larger_than_collection() -> None:
    """R-SEARCH-1: k > n_docs returns n_docs results, best first."""
    scores, indices = li.search_exact(QUERIES, DOCS, k=50)
    assert scores.shape == indices.shape == (3, 5)
    assert indices.dtype == np.int64
    assert (np.diff(scores, axis=1) <= 0).all()
    for row in indices:
        assert sorted(row) == list(range(5))


@pytest.mark.spec("R-SEARCH-1")
def test_search_ties_to_lower_index() -> None:
    """R-SEARCH-1: duplicated documents rank by index."""
    docs = [DOCS[0], DOCS[1], DOCS[0], DOCS[1], DOCS[0]]
    _, indices = li.search_exact(QUERIES[0], docs, k=5)
    full = li.maxsim(QUERIES[0], docs)[0]
    best, other = (1, 0) if full[1] > full[0] else (0, 1)
    groups = {0: [0, 2, 4], 1: [1, 3]}
    np.testing.assert_array_equal(indices[0], groups[best] + groups[other])


@pytest.mark.spec("R-MAXSIM-13")
@pytest.mark.parametrize("threads", [None, 1, 2, np.int64(2)])
def test_threads_argument_forms(threads: object) -> None:
    """R-MAXSIM-13: None and integers (NumPy integers too) are accepted."""
    np.testing.assert_array_equal(
        li.maxsim(QUERIES, DOCS, threads=threads), li.maxsim(QUERIES, DOCS)
    )


def test_package_imports_without_torch() -> None:
    """The core imports without torch (a subprocess where importing torch fails)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, lateint_ref as li\n"
        "print(li.maxsim(np.ones((1, 2), np.float32), [np.ones((1, 2), np.float32)])[0, 0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2.0"
