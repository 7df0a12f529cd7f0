"""Search results do not depend on how an index's documents are split into segments (spec/index.md
R-ISEARCH-8): centroid scores once per query, candidate and rescore budgets over all segments."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from lateint_ref import Index

N_DOCS, FIRST, DIM = 1200, 300, 16


def _corpus() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    centers = rng.standard_normal((40, DIM)).astype(np.float32)
    docs = []
    for _ in range(N_DOCS):
        n = int(rng.integers(2, 7))
        picks = centers[rng.integers(0, 40, n)]
        docs.append((picks + 0.4 * rng.standard_normal((n, DIM))).astype(np.float32))
    return docs


def _build(path: Path, docs: list[np.ndarray], cuts: list[int]) -> Index:
    """Created from the first ``FIRST`` documents (the same codec for every split: k-means is
    deterministic, R-KMEANS-5), then one addition per piece between ``cuts``."""
    index = Index.create(path, docs[:FIRST], seed=3, n_centroids=64)
    bounds = [FIRST, *cuts, len(docs)]
    for a, b in itertools.pairwise(bounds):
        index = index.add(docs[a:b], ids=list(range(a, b)))
    return index


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> list[Index]:
    docs = _corpus()
    base = tmp_path_factory.mktemp("segments")
    rng = np.random.default_rng(5)
    even = np.linspace(FIRST, N_DOCS, 50)[1:-1].round().astype(int).tolist()  # 49 additions
    uneven = sorted(rng.choice(np.arange(FIRST + 1, N_DOCS), 12, replace=False).tolist())
    one = _build(base / "one", docs, [])  # create, then the rest in one addition
    indexes = [
        one,
        _build(base / "even", docs, even),
        _build(base / "uneven", docs, uneven),
    ]
    assert [len(i.segments()) for i in indexes] == [2, 50, 14]
    single = Index.open(one.path).compact()  # one segment, same codes and codec (R-INDEX-12)
    assert len(single.segments()) == 1
    return [single, *indexes]


def _same(indexes: list[Index], queries: list[np.ndarray], **params: object) -> None:
    first = indexes[0].search(queries, 10, **params)
    for other in indexes[1:]:
        got = other.search(queries, 10, **params)
        assert [h.ids for h in got] == [h.ids for h in first], (other.path, params)
        for a, b in zip(got, first, strict=True):
            np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.spec("R-INDEX-7", "R-ISEARCH-3", "R-ISEARCH-8")
@pytest.mark.parametrize(
    "params",
    [
        {},  # the defaults (R-ISEARCH-3): candidates 512 and rescore 128 of 1200 documents
        {"nprobe": 2, "candidates": 40, "rescore": 12},
        {"nprobe": 1, "candidates": 15, "rescore": 10},
        {"exhaustive": True},
    ],
)
def test_results_do_not_depend_on_segmentation(splits: list[Index], params: dict) -> None:
    """R-ISEARCH-8, R-INDEX-7: one segment, two, 14 uneven and 50 segments with the same codec
    and documents give the same hits, ids and scores bit for bit, in the default pipeline with
    budgets that cut deep into the candidates, and exhaustively."""
    rng = np.random.default_rng(7)
    queries = [
        rng.standard_normal((int(rng.integers(2, 6)), DIM)).astype(np.float32) for _ in range(12)
    ]
    _same(splits, queries, **params)
    assert all(len(h.ids) == 10 for h in splits[1].search(queries, 10, **params))


@pytest.mark.spec("R-ISEARCH-6", "R-ISEARCH-7", "R-ISEARCH-8")
def test_deleted_and_allowed_documents_do_not_depend_on_segmentation(
    splits: list[Index], tmp_path: Path
) -> None:
    """R-ISEARCH-8, R-ISEARCH-6, R-ISEARCH-7: with the same documents deleted, or a long
    allow-list, the splits still agree."""
    rng = np.random.default_rng(8)
    queries = [rng.standard_normal((3, DIM)).astype(np.float32) for _ in range(8)]
    allow = sorted(rng.choice(N_DOCS, 700, replace=False).tolist())
    _same(splits, queries, candidates=60, rescore=20, allow=allow)
    gone = [int(x) for x in rng.choice(N_DOCS, 150, replace=False)]
    deleted = [Index.open(i.path) for i in splits[1:]]  # the compacted copy shares one's folder
    deleted = [i.delete(gone) for i in deleted]
    _same(deleted, queries)
    _same(deleted, queries, candidates=60, rescore=20)
