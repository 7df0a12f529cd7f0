"""Documents scored where they lie (spec/maxsim.md R-MAXSIM-3, R-MAXSIM-9): a list of C-contiguous
float32 arrays goes to the core without a copy and scores bit for bit as the packed pair and a
``Documents``; its faults are named exactly as the packed form names them; any other list is packed
first, as before."""

from __future__ import annotations

import numpy as np
import pytest

import lateint_ref as li
from lateint_ref import _native
from lateint_ref.scoring.packing import pack_documents, pack_queries

RNG = np.random.default_rng(11)
DIM = 16
QUERIES = [RNG.standard_normal((n, DIM)).astype(np.float32) for n in (3, 32, 7)]
DOCS = [RNG.standard_normal((n, DIM)).astype(np.float32) for n in RNG.integers(1, 60, 300)]


def _packed(docs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return pack_documents(docs)


@pytest.mark.spec("R-MAXSIM-3")
@pytest.mark.parametrize("threads", [1, 2])
def test_list_scores_as_packed_and_documents(threads: int) -> None:
    """R-MAXSIM-3: the three forms give the same bits, in every scorer."""
    packed = _packed(DOCS)
    stored = li.Documents(DOCS)
    want = li.maxsim(QUERIES, stored, threads=threads)
    for docs in (DOCS, packed):
        got = li.maxsim(QUERIES, docs, threads=threads)
        assert got.tobytes() == want.tobytes()
    pair_q = [QUERIES[i % 3] for i in range(len(DOCS))]
    want_pairs = li.maxsim_pairwise(pair_q, stored, threads=threads)
    assert li.maxsim_pairwise(pair_q, DOCS, threads=threads).tobytes() == want_pairs.tobytes()
    s_want, i_want = li.search_exact(QUERIES, stored, k=9, threads=threads)
    s_got, i_got = li.search_exact(QUERIES, DOCS, k=9, threads=threads)
    assert s_got.tobytes() == s_want.tobytes()
    assert (i_got == i_want).all()


@pytest.mark.spec("R-MAXSIM-3")
def test_core_reads_a_plain_list_and_refuses_others() -> None:
    """The in-place path is the one taken for a plain list; others are left to the packer."""
    q_vectors, q_offsets = pack_queries(QUERIES)
    direct = _native.maxsim(q_vectors, q_offsets, DOCS)
    assert direct.tobytes() == li.maxsim(QUERIES, _packed(DOCS)).tobytes()
    strided = np.zeros((5, 2 * DIM), dtype=np.float32)[:, ::2]
    for bad in (
        [DOCS[0], DOCS[1].astype(np.float16)],
        [DOCS[0], strided],
        [DOCS[0], DOCS[1][:, :8].copy()],
        [DOCS[0], np.zeros((0, DIM), dtype=np.float32)],
        [DOCS[0], DOCS[1].tolist()],
        [DOCS[0], DOCS[1].astype(">f4")],
    ):
        with pytest.raises(_native.NotPlain):
            _native.maxsim(q_vectors, q_offsets, bad)


@pytest.mark.spec("R-MAXSIM-9")
@pytest.mark.parametrize(
    ("doc", "token", "component", "value"),
    [(0, 0, 0, np.nan), (17, 2, 5, np.inf), (150, 0, 15, -np.inf), (299, -1, 15, np.nan)],
)
def test_non_finite_named_as_the_packed_form_names_it(
    doc: int, token: int, component: int, value: float
) -> None:
    """R-MAXSIM-9: the first bad value in document order, whatever the thread count; a later bad
    value in another tile does not change the message."""
    docs = [d.copy() for d in DOCS]
    docs[doc][token, component] = value
    docs[-1][0, 0] = np.nan if doc != len(DOCS) - 1 else docs[-1][0, 0]
    with pytest.raises(li.InputError) as packed:
        li.Documents(docs)
    message = str(packed.value)
    assert message.startswith("R-MAXSIM-9:")
    pairs = [QUERIES[0]] * len(docs)
    for threads in (1, 2):
        for call, args in (
            (li.maxsim, (QUERIES, docs)),
            (li.maxsim_pairwise, (pairs, docs)),
            (li.search_exact, (QUERIES, docs)),
            (li.maxsim, (QUERIES, _packed(docs))),
        ):
            with pytest.raises(li.InputError) as got:
                call(*args, threads=threads)
            assert str(got.value) == message


@pytest.mark.spec("R-MAXSIM-9")
def test_overflowing_finite_documents_are_not_an_error() -> None:
    """R-MAXSIM-9 is about the inputs: finite values whose products overflow score as the stored
    documents score them (infinite), with no error."""
    docs = [d.copy() for d in DOCS[:20]]
    docs[4][:] = 3.0e38
    want = li.maxsim(QUERIES, li.Documents(docs))
    assert not np.isfinite(want).all()
    assert li.maxsim(QUERIES, docs).tobytes() == want.tobytes()


@pytest.mark.spec("R-MAXSIM-3", "R-MAXSIM-5", "R-MAXSIM-7")
def test_other_lists_are_packed_as_before() -> None:
    """float16 items are widened exactly; non-contiguous items copied; faults named as before."""
    mixed = [DOCS[0], DOCS[1].astype(np.float16), np.asfortranarray(DOCS[2])]
    widened = [DOCS[0], DOCS[1].astype(np.float16).astype(np.float32), DOCS[2]]
    assert li.maxsim(QUERIES, mixed).tobytes() == li.maxsim(QUERIES, widened).tobytes()
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-7:"):
        li.maxsim(QUERIES, [DOCS[0], DOCS[1][:, :8].copy()])
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-5:"):
        li.maxsim(QUERIES, [DOCS[0], DOCS[1].astype(np.float64)])
    with pytest.raises(li.InputError, match=r"^R-MAXSIM-7:"):
        li.maxsim(QUERIES, [d[:, :8].copy() for d in DOCS[:3]])
    assert li.maxsim(QUERIES, []).shape == (3, 0)


def _unaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 copy of ``a`` at an odd byte address."""
    buf = memoryview(bytearray(a.nbytes + 1))[1:]
    out = np.ndarray(a.shape, np.float32, buffer=buf)
    out[...] = a
    return out


@pytest.mark.spec("R-MAXSIM-3")
def test_unaligned_arrays_score_as_aligned_ones() -> None:
    """An array at an odd address (which the core cannot read in place) is copied, in any form."""
    want = li.maxsim(QUERIES, DOCS[:20])
    odd = [DOCS[0], _unaligned(DOCS[1]), *DOCS[2:20]]
    assert li.maxsim(QUERIES, odd).tobytes() == want.tobytes()
    vectors, offsets = _packed(DOCS[:20])
    assert li.maxsim(QUERIES, (_unaligned(vectors), offsets)).tobytes() == want.tobytes()
    cube = np.stack([d[:5] for d in DOCS[:20] if len(d) >= 5])
    assert li.maxsim(QUERIES, _unaligned(cube)).tobytes() == li.maxsim(QUERIES, cube).tobytes()


@pytest.mark.spec("R-MAXSIM-9")
def test_non_finite_documents_are_named_without_queries() -> None:
    """With no query there is no product to carry the check: the documents are checked alone."""
    docs = [d.copy() for d in DOCS[:10]]
    docs[3][1, 2] = np.inf
    none = np.zeros((0, 4, DIM), np.float32)
    cube = np.stack([d[:1] for d in DOCS[:10]])
    cube[3, 0, 2] = np.nan
    for form in (docs, _packed(docs), cube):
        for call in (li.maxsim, li.search_exact):
            with pytest.raises(li.InputError, match=r"^R-MAXSIM-9:"):
                call(none, form)
