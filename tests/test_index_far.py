"""Far tokens (spec/index.md R-INDEX-18): the codec's threshold on residual norms, each
segment's count of the tokens beyond it, reported by ``Index.stats()``; and indexes of format
version 1, which record none."""

from __future__ import annotations

import itertools
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from oracle import index as index_oracle
from test_index_format import (
    KIND_CODEC,
    build,
    entries,
    entry_name,
    header_crc,
    pack_entries,
    parse,
)

import lateint_ref as li
from lateint_ref import Index

DIM = 16
SEED = 3


def _collection(seed: int, n_docs: int, rotate: bool = False) -> list[np.ndarray]:
    """Unit-norm tokens, documents of 1..19, around 24 fixed directions (the same for every
    ``seed``); ``rotate``: the tokens turned by a fixed random rotation, away from those
    directions (another distribution)."""
    centres = np.random.default_rng(0).standard_normal((24, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, 20, n_docs)
    x = centres[rng.integers(0, 24, lens.sum())] + 0.15 * rng.standard_normal((lens.sum(), DIM))
    if rotate:
        q, _ = np.linalg.qr(np.random.default_rng(99).standard_normal((DIM, DIM)))
        x = x @ q
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    bounds = np.cumsum([0, *lens])
    return [x[a:b] for a, b in itertools.pairwise(bounds)]


def dots(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """R-KMEANS-4's dot products: one-token MaxSim is the R-MAXSIM-10 chain."""
    return li.maxsim(np.ascontiguousarray(x[:, None, :]), [row[None, :] for row in c])


def _norms(index: Index, docs: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each document's squared residual norms with the index's centroids (R-INDEX-18), after
    checking that the assignment is the one stored (R-KMEANS-4)."""
    x = np.concatenate(docs)
    c = index.centroids
    a = index_oracle.assign(x, c, dots)
    e = index_oracle.squared_residual_norms(x, c[a])
    bounds = np.cumsum([0, *map(len, docs)])
    return [e[p:q] for p, q in itertools.pairwise(bounds)], a


def _threshold(index: Index, docs: list[np.ndarray], seed: int) -> float:
    """``tau^2`` of a codec trained on ``docs`` (R-INDEX-18): the 99th percentile rank of its
    sample's squared residual norms."""
    norms, _ = _norms(index, docs)
    e = np.concatenate(norms)
    _, s = index_oracle.default_sizes(len(e))
    picks = index_oracle.sample_positions(len(e), s, seed)
    return index_oracle.far_threshold(e[picks])


@pytest.fixture(scope="module")
def original() -> list[np.ndarray]:
    return _collection(1, 200)


@pytest.mark.spec("R-INDEX-5", "R-INDEX-18", "R-KMEANS-4")
def test_far_counts_follow_the_spec(tmp_path: Path, original: list[np.ndarray]) -> None:
    """R-INDEX-18, R-INDEX-5: the codec's threshold is the sample's squared residual norm of rank
    floor(S * 99 / 100); each segment (create's and add's) counts the tokens beyond it with the
    codec's centroids, reported per segment and in total by stats()."""
    index = Index.create(tmp_path / "i", original, seed=SEED)
    tau2 = _threshold(index, original, SEED)
    stats = index.stats()
    assert stats["far_threshold"] == math.sqrt(tau2)
    norms, assigned = _norms(index, original)
    starts = np.cumsum([0, *map(len, original)])
    for p in range(len(original)):  # the oracle's assignment is the stored one
        codes, _ = index.codes(p)
        np.testing.assert_array_equal(np.sort(assigned[starts[p] : starts[p + 1]]), codes)
    want = sum(int((e > tau2).sum()) for e in norms)
    assert stats["far_tokens"] == want
    assert 0 < want <= 0.01 * index.n_tokens + 1  # the sample is all tokens here: at most 1%

    drifted = _collection(2, 60, rotate=True)
    added = index.add(drifted, list(range(1000, 1060)))
    new_norms, _ = _norms(added, drifted)
    want_new = sum(int((e > tau2).sum()) for e in new_norms)
    n_new = sum(map(len, drifted))
    stats = added.stats()
    assert stats["segments"] == [
        {
            "name": "segment-1.lti",
            "n_docs": 200,
            "n_tokens": index.n_tokens,
            "far_tokens": want,
            "far_share": want / index.n_tokens,
        },
        {
            "name": "segment-2.lti",
            "n_docs": 60,
            "n_tokens": n_new,
            "far_tokens": want_new,
            "far_share": want_new / n_new,
        },
    ]
    assert stats["far_tokens"] == want + want_new
    assert stats["far_share"] == (want + want_new) / added.n_tokens
    assert stats["far_threshold"] == math.sqrt(tau2)  # add keeps the codec


@pytest.mark.spec("R-INDEX-18")
def test_drifted_additions_show_a_high_far_share(
    tmp_path: Path, original: list[np.ndarray]
) -> None:
    """R-INDEX-18: documents of the training distribution stay near 1% far; documents from
    another distribution (rotated) are far well above it. (About 60 tokens per centroid here:
    with the default 256 centroids for 2,000 tokens, k-means fits its own sample more closely
    than new documents of the same distribution, which then show about 6%.)"""
    index = Index.create(tmp_path / "i", original, seed=SEED, n_centroids=32)
    same = index.add(_collection(5, 80), list(range(500, 580)))
    drifted = same.add(_collection(6, 80, rotate=True), list(range(600, 680)))
    shares = [s["far_share"] for s in drifted.stats()["segments"]]
    assert shares[0] <= 0.0101
    assert shares[1] < 0.03  # same distribution, other documents
    assert shares[2] > 0.5  # another distribution
    assert drifted.stats()["far_share"] > 3 * shares[0]


@pytest.mark.spec("R-INDEX-18", "R-KMEANS-5")
def test_far_counts_are_deterministic(tmp_path: Path, original: list[np.ndarray]) -> None:
    """R-INDEX-18, R-KMEANS-5: the same vectors added again count the same far tokens, and the
    files (far counts included) do not depend on the thread count."""
    drifted = _collection(7, 40, rotate=True)
    trees = []
    for threads in (1, 2):
        path = tmp_path / f"t{threads}"
        index = Index.create(path, original, seed=SEED, threads=threads)
        index = index.add(drifted, list(range(1000, 1040)), threads=threads)
        index = index.add(drifted, list(range(2000, 2040)), threads=threads)
        first, second = index.stats()["segments"][1:]
        assert first["far_tokens"] == second["far_tokens"] > 0
        trees.append({f.name: f.read_bytes() for f in path.iterdir() if f.name != "LOCK"})
    assert trees[0] == trees[1]


@pytest.mark.spec("R-INDEX-12", "R-INDEX-18", "R-KMEANS-4")
def test_compaction_copies_the_live_documents_far_counts(
    tmp_path: Path, original: list[np.ndarray]
) -> None:
    """R-INDEX-18, R-INDEX-12: the compacted segment's far tokens are those of its live
    documents (their counts copied), the deleted documents' dropped."""
    index = Index.create(tmp_path / "i", original, seed=SEED)
    drifted = _collection(8, 30, rotate=True)
    index = index.add(drifted, list(range(1000, 1030)))
    tau2 = _threshold(index, original, SEED)
    gone = [*range(0, 200, 3), *range(1000, 1030, 2)]
    index = index.delete(gone)
    docs = dict(zip([*range(200), *range(1000, 1030)], [*original, *drifted], strict=True))
    live = [i for i in docs if i not in set(gone)]
    norms, _ = _norms(index, [docs[i] for i in live])
    want = sum(int((e > tau2).sum()) for e in norms)
    compacted = index.compact()
    stats = compacted.stats()
    assert stats["far_tokens"] == want
    assert stats["segments"][0]["far_tokens"] == want
    assert stats["far_threshold"] == math.sqrt(tau2)


def _as_version(path: Path, version: int) -> None:
    """Rewrites the index at ``path`` as an earlier format version wrote it (R-INDEX-4,
    R-INDEX-5): version 3, the codec without R-QUANT-8's weight and passes; version 2, also
    without its product iterations and rows; version 1, also without its far threshold, and each
    segment without ``n_far`` and its far counts."""
    man = parse((path / "MANIFEST").read_bytes())
    rows = entries(man)
    codec_crc = 0  # the codec comes first (R-INDEX-3)
    for row in rows:
        name = entry_name(row)
        c = parse((path / name).read_bytes())
        c.version = version
        if c.kind == KIND_CODEC:
            del c.fields[5 + version :]
            if version < 3:
                del c.sections[4:]
        else:
            if version == 1:
                del c.fields[8:]
                del c.sections[8:]
            c.fields[7] = codec_crc
        blob = build(c)
        if c.kind == KIND_CODEC:
            codec_crc = header_crc(blob)
        (path / name).write_bytes(blob)
        row[2], row[3] = len(blob), header_crc(blob)
    man.sections[0] = pack_entries(rows)
    (path / "MANIFEST").write_bytes(build(man))


@pytest.mark.spec("R-INDEX-1", "R-INDEX-4", "R-INDEX-7", "R-INDEX-18", "R-QUANT-4")
def test_version_1_indexes_are_read_and_report_no_far_figures(
    tmp_path: Path, original: list[np.ndarray]
) -> None:
    """R-INDEX-18, R-INDEX-1, R-INDEX-7: an index of format version 1 (no far threshold, no far
    counts) opens and searches as before, reports None for every far figure, and additions and
    compactions keep writing version 1 segments for it."""
    path = tmp_path / "i"
    index = Index.create(path, original, seed=SEED)
    q = _collection(9, 3)
    _as_version(path, 1)
    old = Index.open(path)
    assert old.format_version == 1
    # R-QUANT-4: without product rows the table is the buckets' (R-INDEX-4)
    np.testing.assert_array_equal(old.table, index_oracle.bucket_table(index.weights, index.nbits))
    scores = li.maxsim(q, old.decode(range(len(old))))
    for n, hits in enumerate(old.search(q, k=5, exhaustive=True)):
        want = sorted(range(len(old)), key=lambda p: (-float(scores[n, p]), p))[:5]
        assert hits.ids == [old.ids[p] for p in want]
        np.testing.assert_array_equal(hits.scores, scores[n, want])
    stats = old.stats()
    assert (stats["far_threshold"], stats["far_tokens"], stats["far_share"]) == (None,) * 3
    assert stats["segments"][0]["far_tokens"] is None
    added = old.add(_collection(10, 5), list(range(900, 905))).delete([0])
    assert parse((path / "segment-2.lti").read_bytes()).version == 1
    compacted = added.compact()
    ((name, _),) = compacted.segments()
    seg = parse((path / name).read_bytes())
    assert (seg.version, len(seg.sections)) == (1, 8)
    assert compacted.stats()["far_share"] is None
    assert struct.unpack_from("<I", (path / "codec-1.lti").read_bytes(), 12)[0] == 1


@pytest.mark.spec("R-INDEX-4", "R-QUANT-4", "R-QUANT-6")
def test_version_2_indexes_keep_their_codes_and_a_refit_writes_version_3(
    tmp_path: Path, original: list[np.ndarray]
) -> None:
    """R-INDEX-4, R-QUANT-4, R-QUANT-6: an index of format version 2 (scalar buckets, no
    product rows) opens and searches over its bucket table; additions and compactions keep
    writing version 2 segments for it; a refit writes a version 4 codec."""
    path = tmp_path / "i"
    index = Index.create(path, original, seed=SEED)
    assert index.format_version == 4
    _as_version(path, 2)
    old = Index.open(path)
    assert old.format_version == 2
    np.testing.assert_array_equal(old.table, index_oracle.bucket_table(index.weights, index.nbits))
    assert old.stats()["far_threshold"] == index.stats()["far_threshold"]
    q = _collection(9, 3)
    scores = li.maxsim(q, old.decode(range(len(old))))
    for n, hits in enumerate(old.search(q, k=5, exhaustive=True)):
        want = sorted(range(len(old)), key=lambda p: (-float(scores[n, p]), p))[:5]
        assert hits.ids == [old.ids[p] for p in want]
    added = old.add(_collection(10, 5), list(range(900, 905))).delete([0])
    assert parse((path / "segment-2.lti").read_bytes()).version == 2
    compacted = added.compact()
    ((name, _),) = compacted.segments()
    assert parse((path / name).read_bytes()).version == 2
    refitted = compacted.compact(refit=True, documents=[*original[1:], *_collection(10, 5)])
    assert refitted.format_version == 4
    for name, _ in refitted.files():
        if name != "MANIFEST":
            assert parse((path / name).read_bytes()).version == 4


@pytest.mark.spec("R-INDEX-4", "R-QUANT-7", "R-QUANT-8")
def test_version_3_indexes_code_added_documents_by_nearest_rows(
    tmp_path: Path, original: list[np.ndarray]
) -> None:
    """R-INDEX-4, R-QUANT-7, R-QUANT-8: an index of format version 3 opens and searches over its
    product rows; added documents are coded by R-QUANT-7's nearest rows (not R-QUANT-8) in
    version 3 segments; a refit writes version 4."""
    path = tmp_path / "i"
    index = Index.create(path, original, seed=SEED)
    _as_version(path, 3)
    old = Index.open(path)
    assert old.format_version == 3
    np.testing.assert_array_equal(old.table, index.table)
    q = _collection(9, 3)
    scores = li.maxsim(q, old.decode(range(len(old))))
    for n, hits in enumerate(old.search(q, k=5, exhaustive=True)):
        want = sorted(range(len(old)), key=lambda p: (-float(scores[n, p]), p))[:5]
        assert hits.ids == [old.ids[p] for p in want]
    extra = _collection(10, 5)
    added = old.add(extra, list(range(900, 905)))
    assert parse((path / "segment-2.lti").read_bytes()).version == 3
    c = added.centroids
    owner = np.concatenate(
        [np.argmax(d.astype(np.float64) @ c.T.astype(np.float64), 1) for d in extra]
    )
    x = np.concatenate(extra)
    for j in range(5):
        pos = len(original) + j
        ids, buckets = added.codes(pos)
        lo = sum(len(d) for d in extra[:j])
        mine = owner[lo : lo + len(extra[j])]
        stored = x[lo : lo + len(extra[j])][np.argsort(mine, kind="stable")]
        code = index_oracle.code_bytes_of(buckets, added.nbits)
        r = stored - c[ids]
        want = index_oracle.encode_product(r, added.table, added.cutoffs, added.nbits)
        np.testing.assert_array_equal(code, want)
    refitted = added.compact(refit=True, documents=[*original, *extra])
    assert refitted.format_version == 4
