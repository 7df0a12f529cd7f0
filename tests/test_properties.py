"""Property tests: the implementation against the float64 oracle, and the laws of MaxSim."""

from __future__ import annotations

import numpy as np
import oracle
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lateint_ref as li
from lateint_ref import _native
from lateint_ref.scoring.packing import pack_documents, pack_queries


@st.composite
def problems(draw: st.DrawFn, max_dim: int = 40, max_tokens: int = 40) -> tuple:
    """(queries, documents): seeded random float32 matrices, some unit-norm, some raw."""
    seed = draw(st.integers(0, 2**32 - 1))
    dim = draw(st.integers(1, max_dim))
    n_q = draw(st.integers(1, 4))
    n_d = draw(st.integers(1, 8))
    q_lens = draw(st.lists(st.integers(1, 70), min_size=n_q, max_size=n_q))
    d_lens = draw(st.lists(st.integers(1, max_tokens), min_size=n_d, max_size=n_d))
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
    normalise = draw(st.booleans())
    rng = np.random.default_rng(seed)

    def mat(n: int) -> np.ndarray:
        x = rng.standard_normal((n, dim))
        if normalise:
            x /= np.linalg.norm(x, axis=1, keepdims=True)
        return (x * scale).astype(np.float32)

    return [mat(n) for n in q_lens], [mat(n) for n in d_lens]


@pytest.mark.spec("R-MAXSIM-1", "R-MAXSIM-10")
@given(problems())
def test_matches_oracle_within_bound(problem: tuple) -> None:
    """R-MAXSIM-1, R-MAXSIM-10: within the float32 bound of the float64 oracle."""
    queries, documents = problem
    got = li.maxsim(queries, documents).astype(np.float64)
    want = oracle.maxsim(queries, documents)
    bound = np.array([[oracle.bound_f32(q, d) for d in documents] for q in queries])
    assert (np.abs(got - want) <= bound).all()


@pytest.mark.spec("R-MAXSIM-11")
@given(problems())
def test_bfloat16_matches_oracle_within_bound(problem: tuple) -> None:
    """R-MAXSIM-11: bfloat16 storage within its bound of the unrounded oracle."""
    queries, documents = problem
    got = li.maxsim(queries, li.Documents(documents, storage="bfloat16")).astype(np.float64)
    want = oracle.maxsim(queries, documents)
    bound = np.array([[oracle.bound_bf16(q, d) for d in documents] for q in queries])
    assert (np.abs(got - want) <= bound).all()


ISAS = _native.available_isas()
SIMD_ISAS = [isa for isa in ISAS if isa != "scalar"]


@pytest.mark.spec("R-MAXSIM-10")
def test_scalar_kernel_is_always_available() -> None:
    """R-MAXSIM-10: the scalar kernel, the oracle of the SIMD ones, runs on every CPU."""
    assert "scalar" in ISAS


@pytest.mark.spec("R-MAXSIM-10")
@pytest.mark.skipif(not SIMD_ISAS, reason="this CPU has no SIMD kernel to compare with scalar")
@given(problems())
def test_every_instruction_set_gives_the_same_bits(problem: tuple) -> None:
    """R-MAXSIM-10: each SIMD f32 kernel (AVX2, AVX-512) gives the scalar kernel's bits."""
    queries, documents = problem
    qv, qo = pack_queries(queries)
    dv, do = pack_documents(documents)
    scalar = _native.maxsim(qv, qo, (dv, do), None, "scalar")
    for isa in SIMD_ISAS:
        got = _native.maxsim(qv, qo, (dv, do), None, isa)
        np.testing.assert_array_equal(got.view(np.uint32), scalar.view(np.uint32), err_msg=isa)


@pytest.mark.spec("R-MAXSIM-13")
@given(problems(), st.sampled_from([1, 2, 3, 8]))
def test_identical_across_thread_counts(problem: tuple, threads: int) -> None:
    """R-MAXSIM-13: bit-identical results whatever the thread count."""
    queries, documents = problem
    base = li.maxsim(queries, documents, threads=1)
    np.testing.assert_array_equal(li.maxsim(queries, documents, threads=threads), base)
    s1, i1 = li.search_exact(queries, documents, k=3, threads=1)
    s2, i2 = li.search_exact(queries, documents, k=3, threads=threads)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(i1, i2)


@pytest.mark.spec("R-MAXSIM-1")
@given(problems(), st.integers(0, 2**32 - 1))
def test_invariant_under_permuting_document_tokens(problem: tuple, seed: int) -> None:
    """R-MAXSIM-1: a document is a set of tokens; their order does not matter (bit for bit)."""
    queries, documents = problem
    rng = np.random.default_rng(seed)
    shuffled = [d[rng.permutation(len(d))] for d in documents]
    np.testing.assert_array_equal(li.maxsim(queries, shuffled), li.maxsim(queries, documents))


@pytest.mark.spec("R-MAXSIM-1")
@given(problems(), st.integers(0, 2**32 - 1))
def test_additive_over_query_tokens(problem: tuple, seed: int) -> None:
    """R-MAXSIM-1: splitting a query's tokens splits its score (within the bound)."""
    queries, documents = problem
    q = queries[0]
    cut = int(np.random.default_rng(seed).integers(0, len(q) + 1))
    if cut in (0, len(q)):
        return
    whole = li.maxsim(q, documents)[0].astype(np.float64)
    parts = li.maxsim([q[:cut], q[cut:]], documents).astype(np.float64).sum(axis=0)
    bound = np.array([oracle.bound_f32(q, d) for d in documents])
    assert (np.abs(whole - parts) <= 2 * bound).all()


@pytest.mark.spec("R-MAXSIM-1")
@given(problems(), st.integers(0, 2**32 - 1))
def test_monotone_when_document_tokens_are_added(problem: tuple, seed: int) -> None:
    """R-MAXSIM-1: more document tokens never lower a score (exactly, not just within a bound)."""
    queries, documents = problem
    rng = np.random.default_rng(seed)
    dim = documents[0].shape[1]
    grown = [
        np.vstack([d, rng.standard_normal((int(rng.integers(1, 5)), dim)).astype(np.float32)])
        for d in documents
    ]
    assert (li.maxsim(queries, grown) >= li.maxsim(queries, documents)).all()


@pytest.mark.spec("R-SEARCH-1", "R-SEARCH-3")
@given(problems(), st.integers(1, 12))
def test_search_is_the_sorted_matrix(problem: tuple, k: int) -> None:
    """R-SEARCH-1, R-SEARCH-3: search_exact equals a stable sort of maxsim's rows."""
    queries, documents = problem
    full = li.maxsim(queries, documents)
    scores, indices = li.search_exact(queries, documents, k=k)
    order = np.argsort(-full, axis=1, kind="stable")[:, : min(k, len(documents))]
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(scores, np.take_along_axis(full, order, axis=1))
