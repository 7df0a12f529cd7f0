"""Every error case of the spec raises InputError (also a ValueError) citing its requirement;
nothing crashes or raises a PanicException."""

from __future__ import annotations

import numpy as np
import pytest

import lateint_ref as li

RNG = np.random.default_rng(7)
Q = RNG.standard_normal((4, 8)).astype(np.float32)
D = [RNG.standard_normal((n, 8)).astype(np.float32) for n in (3, 5)]


def _raises(req: str):
    return pytest.raises(li.InputError, match=f"^{req}:")


def test_hierarchy() -> None:
    assert issubclass(li.InputError, li.LateIntError)
    assert issubclass(li.InputError, ValueError)


@pytest.mark.spec("R-MAXSIM-5")
@pytest.mark.parametrize(
    "dtype", [np.float64, np.int32, np.int64, np.bool_, np.complex64, np.uint8, object]
)
def test_dtype_rejected(dtype: type) -> None:
    """R-MAXSIM-5: only float32 and float16 are accepted, for queries and for documents."""
    with _raises("R-MAXSIM-5"):
        li.maxsim(Q.astype(dtype), D)
    with _raises("R-MAXSIM-5"):
        li.maxsim(Q, [D[0].astype(dtype)])
    with _raises("R-MAXSIM-5"):
        li.Documents([D[0].astype(dtype)])


@pytest.mark.spec("R-MAXSIM-5")
def test_python_lists_of_floats_are_float64_and_rejected() -> None:
    """R-MAXSIM-5: no silent float64 downcast, even from plain lists."""
    with _raises("R-MAXSIM-5"):
        li.maxsim([[0.5, 0.5]], [np.ones((1, 2), np.float32)])


@pytest.mark.spec("R-MAXSIM-6")
@pytest.mark.parametrize(
    ("queries", "documents"),
    [
        (Q[0], D),  # 1-D query
        (Q[None, None], D),  # 4-D queries
        ([Q[None]], D),  # a 3-D item in a query list
        (Q, [D[0][None]]),  # a 3-D document in a list
        (Q, [D[0][0]]),  # a 1-D document
        (Q, np.float32(1.0)),  # a scalar as documents
        (Q, D[0]),  # a 2-D array as documents (ambiguous: not accepted)
    ],
)
def test_wrong_rank(queries: object, documents: object) -> None:
    """R-MAXSIM-6."""
    with _raises("R-MAXSIM-6"):
        li.maxsim(queries, documents)


@pytest.mark.spec("R-MAXSIM-7")
def test_dimension_rules() -> None:
    """R-MAXSIM-7: dims equal and >= 1."""
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-7: query dim 8 != document dim 3$"):
        li.maxsim(Q, [np.ones((2, 3), np.float32)])
    with _raises("R-MAXSIM-7"):
        li.maxsim([Q, Q[:, :4]], D)
    with _raises("R-MAXSIM-7"):
        li.maxsim(Q, [D[0], D[1][:, :2]])
    with _raises("R-MAXSIM-7"):
        li.maxsim(np.zeros((2, 0), np.float32), [np.zeros((1, 0), np.float32)])


@pytest.mark.spec("R-MAXSIM-8")
def test_empty_items() -> None:
    """R-MAXSIM-8: a query or document with no token."""
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-8: document 1 has no token$"):
        li.maxsim(Q, [D[0], np.zeros((0, 8), np.float32)])
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-8: query 0 has no token$"):
        li.maxsim(np.zeros((0, 8), np.float32), D)
    with _raises("R-MAXSIM-8"):
        li.maxsim(Q, (np.ones((3, 8), np.float32), np.array([0, 3, 3])))
    with _raises("R-MAXSIM-8"):
        li.maxsim(np.zeros((2, 0, 8), np.float32), D)


@pytest.mark.spec("R-MAXSIM-9")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(bad: float) -> None:
    """R-MAXSIM-9: names the item, token and component."""
    q = Q.copy()
    q[2, 5] = bad
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-9: query 0, token 2, component 5 is"):
        li.maxsim(q, D)
    d = D[1].copy()
    d[4, 7] = bad
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-9: document 1, token 4, component 7"):
        li.maxsim(Q, [D[0], d])
    with _raises("R-MAXSIM-9"):
        li.Documents([D[0], d])
    with _raises("R-MAXSIM-9"):
        li.maxsim(Q, (np.vstack([D[0], d]), np.array([0, 3, 8])))


@pytest.mark.spec("R-MAXSIM-4")
@pytest.mark.parametrize(
    "offsets",
    [[1, 8], [0, 9], [0, 5, 3, 8], [0], [], 8, [0.0, 8.0], [-1, 8], [0, 2**63 + 5]],
)
def test_bad_offsets(offsets: list) -> None:
    """R-MAXSIM-4: offsets start at 0, end at n_tokens, never decrease, integer, 1-D."""
    vectors = np.vstack(D)
    with _raises("R-MAXSIM-4"):
        li.maxsim(Q, (vectors, offsets))


@pytest.mark.spec("R-MAXSIM-11")
def test_bfloat16_overflow_and_storage() -> None:
    """R-MAXSIM-11."""
    big = D[0].copy()
    big[1, 1] = -3.4e38
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-11: document value .* overflows"):
        li.Documents([big], storage="bfloat16")
    li.Documents([big], storage="float32")  # fine in float32
    docs = li.Documents(D, storage="bfloat16")
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-11: query value"):
        li.maxsim(np.full((1, 8), 3.4e38, np.float32), docs)
    for storage in ("float16", "bf16", "", None, 32):
        with _raises("R-MAXSIM-11"):
            li.Documents(D, storage=storage)


@pytest.mark.spec("R-MAXSIM-12")
def test_pairwise_count() -> None:
    """R-MAXSIM-12."""
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-12: .* 1 queries and 2 documents"):
        li.maxsim_pairwise([Q], D)


@pytest.mark.spec("R-MAXSIM-13")
@pytest.mark.parametrize("threads", [0, -1, 1025, 2**70, True, 1.0, "2"])
def test_bad_threads(threads: object) -> None:
    """R-MAXSIM-13."""
    with _raises("R-MAXSIM-13"):
        li.maxsim(Q, D, threads=threads)
    with _raises("R-MAXSIM-13"):
        li.search_exact(Q, D, threads=threads)


@pytest.mark.spec("R-SEARCH-2")
@pytest.mark.parametrize("k", [0, -5, 2.0, None, True, "3"])
def test_bad_k(k: object) -> None:
    """R-SEARCH-2."""
    with _raises("R-SEARCH-2"):
        li.search_exact(Q, D, k=k)


@pytest.mark.spec("R-MAXSIM-4", "R-MAXSIM-11", "R-MAXSIM-13", "R-SEARCH-2")
def test_native_layer_checks_too() -> None:
    """The native functions validate on their own (R-MAXSIM-4, -13, R-SEARCH-2): a caller that
    skips the Python layer still gets InputError, never a panic."""
    from lateint_ref import _native

    qv, qo = Q, np.array([0, 4], np.int64)
    dv, do = np.vstack(D), np.array([0, 3, 8], np.int64)
    with _raises("R-MAXSIM-13"):
        _native.maxsim(qv, qo, (dv, do), 0)
    with _raises("R-SEARCH-2"):
        _native.search_exact(qv, qo, (dv, do), 0)
    with _raises("R-MAXSIM-4"):
        _native.maxsim(qv, np.array([0, 5], np.int64), (dv, do))
    with _raises("R-MAXSIM-11"):
        _native.DocumentSet(dv, do, "int8")


@pytest.mark.spec("R-MAXSIM-15")
def test_result_too_large_is_memory_error() -> None:
    """R-MAXSIM-15: a result that cannot be allocated raises MemoryError, not an abort."""
    # 4e6 x 1e7 scores = 160 TB: beyond any address space, whatever the overcommit policy.
    queries = np.ones((4_000_000, 1, 1), np.float32)
    docs = li.Documents((np.ones((10_000_000, 1), np.float32), np.arange(10_000_001)))
    with pytest.raises(MemoryError, match="R-MAXSIM-15"):
        li.maxsim(queries, docs)


@pytest.mark.spec("R-MAXSIM-15")
def test_search_result_too_large_is_memory_error() -> None:
    """R-MAXSIM-15: search_exact's result (200,000 queries x k' = 200,000: 480 GB of scores and
    indices) raises MemoryError before anything is allocated; the process does not abort. Run in
    a subprocess, so that an abort cannot take pytest down."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import numpy as np, lateint_ref as li\n"
        "q = np.ones((200_000, 1, 1), np.float32)\n"
        "d = (np.ones((200_000, 1), np.float32), np.arange(200_001))\n"
        "try:\n"
        "    li.search_exact(q, d, k=200_000)\n"
        "except MemoryError as e:\n"
        "    print('MemoryError:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr[-2000:]}"
    assert out.stdout.startswith("MemoryError: R-MAXSIM-15:"), out.stdout
