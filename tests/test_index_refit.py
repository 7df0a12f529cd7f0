"""Compaction with a new codec (spec/index.md R-INDEX-19): ``Index.compact(refit=True,
documents=...)`` trains a codec on the live documents' embeddings as ``Index.create`` does and
commits it with one segment, in one commit; bad arguments change nothing; a stopped refit leaves
the last commit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_index_far import SEED, _collection

from lateint_ref import Index, InputError, _native


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.name != "LOCK"}


def _drifted_index(path: Path) -> tuple[Index, dict[int, np.ndarray]]:
    """An index created from one distribution, then added to from another (rotated), with
    deletions in both; returns it and every document's embeddings by id."""
    first, drifted = _collection(1, 200), _collection(2, 80, rotate=True)
    index = Index.create(path, first, seed=SEED, kmeans_iters=3, metadata={"model": "m"})
    index = index.add(drifted, list(range(1000, 1080)))
    index = index.delete([*range(0, 200, 7), *range(1000, 1080, 5)])
    docs = dict(zip([*range(200), *range(1000, 1080)], [*first, *drifted], strict=True))
    return index, docs


@pytest.mark.spec("R-INDEX-12", "R-INDEX-15", "R-INDEX-18", "R-INDEX-19", "R-KMEANS-1")
def test_refit_equals_a_fresh_create(tmp_path: Path) -> None:
    """R-INDEX-19, R-INDEX-18: after a drifted addition, a refit on the live embeddings commits
    generation g + 1 naming a new codec and one segment, byte for byte those of a fresh
    Index.create of the live documents with the same ids and parameters; the same hits and
    scores; the far share back at the fresh level; the old files removed."""
    index, docs = _drifted_index(tmp_path / "i")
    live = index.live_ids
    vectors = [docs[i] for i in live]
    before = index.stats()["far_share"]
    g = index.generation
    refit = index.compact(refit=True, documents=vectors)
    fresh = Index.create(
        tmp_path / "fresh", vectors, live, seed=SEED, kmeans_iters=3, metadata={"model": "m"}
    )
    assert refit.generation == g + 1
    assert [n for n, _ in refit.files()] == [
        "MANIFEST",
        f"codec-{g + 1}.lti",
        f"segment-{g + 1}.lti",
    ]
    assert sorted(_files(tmp_path / "i")) == sorted(n for n, _ in refit.files())
    new, want = _files(tmp_path / "i"), _files(tmp_path / "fresh")
    assert new[f"codec-{g + 1}.lti"] == want["codec-1.lti"]
    assert new[f"segment-{g + 1}.lti"] == want["segment-1.lti"]
    assert refit.ids == live
    assert refit.deleted == []
    assert refit.n_centroids == fresh.n_centroids  # R-KMEANS-1 for the new size
    q = _collection(3, 6) + _collection(4, 6, rotate=True)
    for exhaustive in (False, True):
        got = refit.search(q, k=10, exhaustive=exhaustive)
        for a, b in zip(got, fresh.search(q, k=10, exhaustive=exhaustive), strict=True):
            assert a.ids == b.ids
            np.testing.assert_array_equal(a.scores, b.scores)
    after = refit.stats()
    assert after["far_share"] == fresh.stats()["far_share"] <= 0.011 < before
    assert refit.metadata == {"model": "m"}
    # The reader opened before keeps searching the state it opened (R-INDEX-12, R-INDEX-15).
    assert index.search(q, k=3, exhaustive=True)[0].ids
    assert Index.open(tmp_path / "i").stats() == after


@pytest.mark.spec("R-INDEX-19", "R-KMEANS-1")
def test_refit_parameters(tmp_path: Path) -> None:
    """R-INDEX-19: nbits, seed and kmeans_iters default to the codec's, n_centroids and sample to
    R-KMEANS-1's; given ones are used as create uses them."""
    index, docs = _drifted_index(tmp_path / "i")
    vectors = [docs[i] for i in index.live_ids]
    refit = index.compact(True, vectors, nbits=4, seed=11, n_centroids=64, kmeans_iters=2)
    Index.create(
        tmp_path / "fresh",
        vectors,
        index.live_ids,
        nbits=4,
        seed=11,
        n_centroids=64,
        kmeans_iters=2,
        metadata={"model": "m"},
    )
    assert (refit.nbits, refit.n_centroids, refit.stats()["seed"]) == (4, 64, 11)
    new, want = _files(tmp_path / "i"), _files(tmp_path / "fresh")
    g = refit.generation
    assert new[f"codec-{g}.lti"] == want["codec-1.lti"]
    assert new[f"segment-{g}.lti"] == want["segment-1.lti"]


BAD = {
    "one document too few": (lambda v: {"refit": True, "documents": v[:-1]}, "R-INDEX-19"),
    "one document too many": (lambda v: {"refit": True, "documents": [*v, v[0]]}, "R-INDEX-19"),
    "wrong dim": (
        lambda v: {"refit": True, "documents": [np.ones((2, 8), np.float32) for _ in v]},
        "R-INDEX-19",
    ),
    "documents without refit": (lambda v: {"documents": v}, "R-INDEX-19"),
    "a parameter without refit": (lambda v: {"seed": 4}, "R-INDEX-19"),
    "refit without documents": (lambda v: {"refit": True}, "R-INDEX-19"),
    "refit not a bool": (lambda v: {"refit": 1, "documents": v}, "R-INDEX-19"),
    "nbits 3": (lambda v: {"refit": True, "documents": v, "nbits": 3}, "R-QUANT-1"),
    "n_centroids 0": (lambda v: {"refit": True, "documents": v, "n_centroids": 0}, "R-KMEANS-1"),
    "seed negative": (lambda v: {"refit": True, "documents": v, "seed": -1}, "R-KMEANS-2"),
    "a NaN": (
        lambda v: {"refit": True, "documents": [np.full_like(v[0], np.nan), *v[1:]]},
        "R-MAXSIM-9",
    ),
}


@pytest.mark.spec("R-INDEX-19", "R-KMEANS-1", "R-KMEANS-2", "R-MAXSIM-9", "R-QUANT-1")
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_refits_change_nothing(tmp_path: Path, case: str) -> None:
    """R-INDEX-19: a wrong number of documents, a wrong dim, documents or parameters without
    refit, refit without documents, or a bad parameter raise InputError naming the rule, before
    any change."""
    index, docs = _drifted_index(tmp_path / "i")
    before = _files(tmp_path / "i")
    args, rule = BAD[case]
    with pytest.raises(InputError, match=f"^{rule}"):
        index.compact(**args([docs[i] for i in index.live_ids]))
    assert _files(tmp_path / "i") == before


@pytest.mark.spec("R-INDEX-19")
def test_refit_of_an_index_with_no_live_document(tmp_path: Path) -> None:
    """R-INDEX-19: every document deleted: no documents can match, InputError, no change."""
    index = Index.create(tmp_path / "i", _collection(1, 5))
    index = index.delete(index.ids)
    before = _files(tmp_path / "i")
    with pytest.raises(InputError, match=r"^R-INDEX-19: no documents"):
        index.compact(refit=True, documents=[])
    with pytest.raises(InputError, match=r"^R-INDEX-19: every document is deleted"):
        index.compact(refit=True, documents=_collection(1, 1))
    assert _files(tmp_path / "i") == before


class Stop(ValueError):
    """Raised by the callback of ``_stop_at``."""


def _stop_at(n: int) -> Callable[[str, int, int], None]:
    """A progress callback raising ``Stop`` at its n-th call."""
    count = iter(range(n + 1))

    def callback(stage: str, done: int, total: int) -> None:
        if next(count) == n:
            raise Stop(f"stop at {stage} {done}/{total}")

    return callback


@pytest.mark.spec("R-INDEX-8", "R-INDEX-19")
def test_a_stopped_refit_leaves_the_last_commit(tmp_path: Path) -> None:
    """R-INDEX-19, R-INDEX-8: a progress callback error at any of several reports of a refit is
    raised unchanged; the index stays at its last commit, byte for byte; a later refit then
    gives the files an uninterrupted one gives."""
    ref, docs = _drifted_index(tmp_path / "ref")
    vectors = [docs[i] for i in ref.live_ids]
    packed = np.concatenate(vectors)
    offsets = np.cumsum([0, *map(len, vectors)]).astype(np.int64)
    calls: list[tuple[str, int, int]] = []
    _native.refit_index(str(tmp_path / "ref"), packed, offsets, progress=lambda *a: calls.append(a))
    stages = {c[0] for c in calls}
    assert {"open", "sample", "k-means", "assign", "buckets", "far", "encode", "write"} <= stages
    firsts = sorted({calls.index(next(c for c in calls if c[0] == s)) for s in stages})
    path = tmp_path / "i"
    index, _ = _drifted_index(path)
    before = _files(path)
    for n in [*firsts, len(calls) - 1]:
        with pytest.raises(Stop) as info:
            _native.refit_index(str(path), packed, offsets, progress=_stop_at(n))
        assert type(info.value) is Stop
        assert str(info.value) == "stop at {} {}/{}".format(*calls[n])
        assert _files(path) == before
    assert Index.open(path).generation == index.generation
    index.compact(refit=True, documents=vectors)
    assert _files(path) == _files(tmp_path / "ref")
