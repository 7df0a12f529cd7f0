"""A live index: deletions by tombstone, upserts, compaction and allow-lists (R-INDEX-9..12,
R-ISEARCH-6, R-ISEARCH-7), each change one atomic commit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lateint_ref as li
from lateint_ref import Index, IndexFormatError, InputError


def _docs(seed: int, n: int, dim: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal((int(rng.integers(1, 7)), dim)).astype(np.float32)
        out.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return out


def _exact(index: Index, queries: list[np.ndarray], k: int, ids: list | None = None) -> list:
    """The ``k`` best live documents (of ``ids`` when given) by MaxSim over their decoded vectors,
    ties by position: ``[(ids, scores)]`` per query."""
    live = [p for p in range(len(index)) if p not in set(index.deleted)]
    if ids is not None:
        live = [p for p in live if index.ids[p] in set(ids)]
    scores = li.maxsim(queries, index.decode(live)) if live else np.zeros((len(queries), 0))
    out = []
    for row in scores:
        order = sorted(range(len(live)), key=lambda j: (-float(row[j]), j))[:k]
        out.append(([index.ids[live[j]] for j in order], row[order].astype(np.float32)))
    return out


def _same(hits: list, want: list) -> None:
    for h, (ids, scores) in zip(hits, want, strict=True):
        assert h.ids == ids
        np.testing.assert_array_equal(h.scores, scores)


@pytest.fixture
def index(tmp_path) -> Index:
    first = Index.create(tmp_path / "i", _docs(1, 30), ids=[f"d{i}" for i in range(30)], seed=2)
    return first.add(_docs(2, 10), ids=[f"e{i}" for i in range(10)])


@pytest.mark.spec("R-INDEX-9", "R-INDEX-10", "R-ISEARCH-6")
def test_deleted_documents_are_never_returned(index: Index) -> None:
    """R-INDEX-10, R-ISEARCH-6, R-INDEX-9: after a delete, no search (default, exhaustive, any
    nprobe) returns a deleted document; exhaustive results are exact MaxSim over the live ones;
    positions and the other ids are unchanged; stats report the counts."""
    q = _docs(3, 4)
    ids_before = index.ids
    gone = ["d0", "d5", "e3", "d29"]
    after = index.delete(gone)
    assert after.generation == index.generation + 1
    assert after.ids == ids_before
    assert after.deleted == [0, 5, 29, 33]
    assert after.n_live == 36
    assert len(after) == 40
    assert [x for x in after.live_ids if x in gone] == []
    stats = after.stats()
    assert (stats["n_docs"], stats["n_live"], stats["n_deleted"]) == (40, 36, 4)
    assert "tombstones-3.lti" in dict(after.files())
    _same(after.search(q, k=40, exhaustive=True), _exact(after, q, 40))
    for nprobe in (1, 2, after.n_centroids):
        for hits in after.search(q, k=40, nprobe=nprobe, candidates=40, rescore=40):
            assert not set(hits.ids) & set(gone)
    # A second delete keeps the first's tombstones; the superseded file is removed.
    again = after.delete(["d1"])
    assert again.deleted == [0, 1, 5, 29, 33]
    assert "tombstones-3.lti" not in dict(again.files())
    assert not (Path(again.path) / "tombstones-3.lti").exists()
    _same(Index.open(again.path).search(q, k=10, exhaustive=True), _exact(again, q, 10))


@pytest.mark.spec("R-INDEX-5", "R-INDEX-10")
def test_unknown_ids_are_refused_before_any_change(index: Index) -> None:
    """R-INDEX-10: an id no live document has (never added, or already deleted) raises
    InputError naming it, and nothing is committed; ids of the other kind are R-INDEX-5."""
    index = index.delete(["d2"])
    files = dict(index.files())
    for bad in (["nope"], ["d3", "d2"]):
        with pytest.raises(InputError, match=r"R-INDEX-10: .*" + bad[-1]):
            index.delete(bad)
    with pytest.raises(InputError, match="R-INDEX-5"):
        index.delete([4])
    with pytest.raises(InputError, match="R-INDEX-10"):
        index.delete("d3")
    assert dict(Index.open(index.path).files()) == files
    assert index.delete([]).generation == index.generation  # nothing to commit


@pytest.mark.spec("R-INDEX-5", "R-INDEX-11")
def test_upsert_replaces_in_one_commit(index: Index) -> None:
    """R-INDEX-11: adding an id of a live document is refused unless upsert=True, which deletes
    the old document and adds the new one in one commit; a deleted id may be added again."""
    files = dict(index.files())
    with pytest.raises(InputError, match=r"R-INDEX-5: id \"d4\" is already in the index"):
        index.add(_docs(5, 2), ids=["new", "d4"])
    assert dict(Index.open(index.path).files()) == files
    new = _docs(6, 2)
    after = index.add(new, ids=["new", "d4"], upsert=True)
    assert after.generation == index.generation + 1
    assert after.deleted == [4]
    assert after.live_ids[-2:] == ["new", "d4"]
    np.testing.assert_array_equal(after.decode([41])[0], Index.open(after.path).decode([41])[0])
    q = _docs(7, 3)
    _same(after.search(q, k=12, exhaustive=True), _exact(after, q, 12))
    again = after.delete(["d4"]).add(_docs(8, 1), ids=["d4"])
    assert again.live_ids.count("d4") == 1
    assert again.ids.count("d4") == 3
    with pytest.raises(InputError, match="R-INDEX-11"):
        index.add(new, ids=["x", "y"], upsert=1)


@pytest.mark.spec("R-INDEX-12")
def test_compaction_keeps_results_and_ids(index: Index, tmp_path) -> None:
    """R-INDEX-12: compaction merges the live documents into one segment with the same codec:
    exhaustive results identical, ids kept, tombstones gone, old files removed; an index opened
    before keeps searching the state it opened."""
    q = _docs(9, 5)
    deleted = index.delete(["d1", "d2", "e9"])
    before = deleted.search(q, k=37, exhaustive=True)
    default_before = deleted.search(q, k=5)
    compacted = deleted.compact()
    names = [n for n, _ in compacted.files()]
    assert names == ["MANIFEST", "codec-1.lti", f"segment-{deleted.generation + 1}.lti"]
    assert sorted(p.name for p in (tmp_path / "i").iterdir()) == sorted([*names, "LOCK"])
    assert compacted.ids == deleted.live_ids
    assert compacted.deleted == []
    np.testing.assert_array_equal(compacted.centroids, deleted.centroids)
    np.testing.assert_array_equal(compacted.weights, deleted.weights)
    after = compacted.search(q, k=37, exhaustive=True)
    _same(after, [(h.ids, h.scores) for h in before])
    # The reader opened before the compaction still searches its own (now unlinked) files.
    _same(deleted.search(q, k=5), [(h.ids, h.scores) for h in default_before])
    for h in compacted.search(q, k=5):
        assert set(h.ids) <= set(compacted.ids)
    everything = compacted.delete(compacted.ids)
    assert everything.n_live == 0
    assert everything.search(q, k=3, exhaustive=True)[0].ids == []
    with pytest.raises(InputError, match="R-INDEX-12"):
        everything.compact()


@pytest.mark.spec("R-ISEARCH-7")
def test_allow_list_is_exact_over_the_allowed_documents(index: Index) -> None:
    """R-ISEARCH-7: with an allow-list, results hold only allowed live documents; a short list
    (at most rescore documents) or exhaustive mode gives exact MaxSim over them; a long list in
    default mode gives a subset; unknown ids are ignored, ids of the other kind refused."""
    index = index.delete(["d3"])
    q = _docs(11, 4)
    allow = ["d1", "d3", "d8", "e2", "e7", "unknown"]
    want = _exact(index, q, 3, allow)
    _same(index.search(q, k=3, allow=allow), want)
    _same(index.search(q, k=3, allow=allow, exhaustive=True), want)
    # Scored without probing: exact even with one probe and one candidate.
    _same(index.search(q, k=3, allow=allow, nprobe=1, candidates=1), want)
    many = [f"d{i}" for i in range(0, 30, 2)]
    for h in index.search(q, k=10, allow=many, rescore=4, candidates=6, nprobe=1):
        assert set(h.ids) <= set(many) - {"d3"}
    _same(index.search(q, k=10, allow=many, exhaustive=True), _exact(index, q, 10, many))
    assert [h.ids for h in index.search(q, k=3, allow=["unknown", "d3"])] == [[]] * 4
    with pytest.raises(InputError, match="R-ISEARCH-7"):
        index.search(q, k=3, allow=[1, 2])
    with pytest.raises(InputError, match="R-ISEARCH-7"):
        index.search(q, k=3, allow="d1")


@pytest.mark.spec("R-INDEX-2", "R-INDEX-9")
def test_tombstones_file_is_validated(index: Index) -> None:
    """R-INDEX-9, R-INDEX-2: a tombstones file is checked as every file: a flipped byte or a
    truncation raises IndexFormatError, never a crash."""
    deleted = index.delete(["d1", "e0"])
    tomb = Path(deleted.path) / f"tombstones-{deleted.generation}.lti"
    good = tomb.read_bytes()
    for at in range(len(good)):
        bad = bytearray(good)
        bad[at] ^= 0x41
        tomb.write_bytes(bytes(bad))
        with pytest.raises(IndexFormatError):
            Index.open(deleted.path)
    tomb.write_bytes(good[:-8])
    with pytest.raises(IndexFormatError):
        Index.open(deleted.path)
    tomb.write_bytes(good)
    assert Index.open(deleted.path).deleted == [1, 30]
