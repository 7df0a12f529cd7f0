"""Additions: new segments coded with the existing codec, committed atomically (R-INDEX-7), one
writer at a time (R-INDEX-6)."""

from __future__ import annotations

import fcntl

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import index as index_oracle

import lateint_ref as li
from lateint_ref import Index, IndexLockedError, InputError


def _docs(seed: int, n: int, dim: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal((int(rng.integers(1, 9)), dim)).astype(np.float32)
        out.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return out


def _files(path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in path.iterdir() if f.name != "LOCK"}


@pytest.mark.spec("R-INDEX-7", "R-ISEARCH-2")
@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 12), st.integers(1, 9))
def test_added_segments_search_as_one_collection(
    tmp_path_factory, seed: int, n_first: int, n_more: int, k: int
) -> None:
    """R-INDEX-7, R-ISEARCH-2: after two additions, exhaustive search ranks every document of
    every segment by MaxSim over its decoded vectors (global positions in commit order); the
    files committed before stay byte for byte; reopening gives the same results."""
    path = tmp_path_factory.mktemp("add") / "index"
    first, second, third = _docs(seed, n_first), _docs(seed + 1, n_more), _docs(seed + 2, 3)
    index = Index.create(path, first, ids=[f"a{i}" for i in range(n_first)], seed=seed)
    before = _files(path)
    index = index.add(second, ids=[f"b{i}" for i in range(n_more)])
    index = index.add(third, ids=["c0", "c1", "c2"])
    after = _files(path)
    assert {n: b for n, b in after.items() if n in before and n != "MANIFEST"} == {
        n: b for n, b in before.items() if n != "MANIFEST"
    }
    assert {"segment-2.lti", "segment-3.lti"} <= set(after)
    n = n_first + n_more + 3
    assert len(index) == n
    assert index.ids == [f"a{i}" for i in range(n_first)] + [f"b{i}" for i in range(n_more)] + [
        "c0",
        "c1",
        "c2",
    ]
    assert index.n_tokens == sum(len(d) for d in first + second + third)
    q = _docs(seed + 3, 2)
    scores = li.maxsim(q, index.decode(range(n)))
    for row, hits in zip(scores, index.search(q, k=k, exhaustive=True), strict=True):
        want = sorted(range(n), key=lambda p: (-float(row[p]), p))[:k]
        assert hits.ids == [index.ids[p] for p in want]
        np.testing.assert_array_equal(hits.scores, row[want])
    again = Index.open(path).search(q, k=k)
    for a, b in zip(again, index.search(q, k=k), strict=True):
        assert a.ids == b.ids
        np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.spec("R-INDEX-7", "R-KMEANS-4", "R-QUANT-8")
def test_added_tokens_use_the_existing_codec(tmp_path) -> None:
    """R-INDEX-7, R-KMEANS-4, R-QUANT-8: an added document's centroid ids are its tokens' nearest
    existing centroids, its codes the existing table's (R-QUANT-8 from the nearest rows), and its
    decoded vectors use that table."""
    index = Index.create(tmp_path / "i", _docs(1, 20), seed=3)
    extra = _docs(2, 1)[0]
    index = index.add([extra])
    assert index.ids[-1] == 19 + 1  # integers after the largest by default
    c = index.centroids.astype(np.float64)
    ids, buckets = index.codes(len(index) - 1)
    want = np.sort(np.argmax(extra.astype(np.float64) @ c.T, axis=1))
    np.testing.assert_array_equal(np.sort(ids), want)
    v = index.decode([len(index) - 1])[0]
    code = index_oracle.code_bytes_of(buckets, index.nbits)
    np.testing.assert_array_equal(
        v, index_oracle.decode_codes(index.centroids[ids], code, index.table)
    )
    x = extra[np.argsort(np.argmax(extra.astype(np.float64) @ c.T, axis=1), kind="stable")]
    np.testing.assert_array_equal(
        code,
        index_oracle.encode_along(x, index.centroids[ids], index.table, index.cutoffs, index.nbits),
    )


@pytest.mark.spec("R-INDEX-5", "R-INDEX-7")
@pytest.mark.parametrize(
    ("ids", "rule"),
    [
        (["x0"], "R-INDEX-5"),  # already in the index
        ([5], "R-INDEX-5"),  # another kind
        (["n0", "n0"], "R-INDEX-5"),  # repeated
        (["n0"], "R-INDEX-5"),  # one id for two documents
    ],
)
def test_bad_additions_change_nothing(tmp_path, ids: list, rule: str) -> None:
    """R-INDEX-5, R-INDEX-7: clashing, repeated, miscounted or mixed-kind ids are refused and the
    index is left as it was."""
    path = tmp_path / "i"
    index = Index.create(path, _docs(1, 4), ids=["x0", "x1", "x2", "x3"])
    before = _files(path)
    n = len(ids) if len(set(ids)) == len(ids) and ids != ["n0"] else 2
    with pytest.raises(InputError, match=rule):
        index.add(_docs(2, n), ids=ids)
    assert _files(path) == before
    assert len(Index.open(path)) == 4


@pytest.mark.spec("R-INDEX-7", "R-MAXSIM-7")
def test_addition_of_another_dimension_is_refused(tmp_path) -> None:
    """R-INDEX-7, R-MAXSIM-7: added documents must have the index's dimension."""
    index = Index.create(tmp_path / "i", _docs(1, 4, dim=8))
    with pytest.raises(InputError, match="R-MAXSIM-7"):
        index.add(_docs(2, 1, dim=6))


@pytest.mark.spec("R-INDEX-6", "R-INDEX-14")
def test_second_writer_is_refused(tmp_path) -> None:
    """R-INDEX-6, R-INDEX-14: while another writer holds the index's LOCK, an addition raises
    IndexLockedError at once."""
    path = tmp_path / "i"
    index = Index.create(path, _docs(1, 4))
    with open(path / "LOCK", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(IndexLockedError, match="R-INDEX-14"):
            index.add(_docs(2, 1))
        fcntl.flock(held, fcntl.LOCK_UN)
    assert len(index.add(_docs(2, 1))) == 5
