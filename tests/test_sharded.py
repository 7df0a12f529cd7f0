"""A sharded index (spec/distributed.md) and an index coded with a given codec (spec/index.md
R-INDEX-20): for 1, 2, 3 and 7 shards, default and exhaustive results equal to one index with the
same codec, in local mode and on a local Ray cluster (``ray.init(num_cpus=2)``, once); a shard
actor killed mid-query gives the typed error or a partial answer, and the query after its restart
is complete."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import beir_collection, lateint
from hypothesis import given, settings
from hypothesis import strategies as st

from lateint_ref.distributed import ShardedIndex, ShardUnavailableError, layout, shard_of
from lateint_ref.distributed import shard as shard_module
from lateint_ref.distributed.assign import group
from lateint_ref.distributed.merge import cut
from lateint_ref.errors import IndexFormatError, InputError
from lateint_ref.index import Index

DIM = 16
SHARD_COUNTS = (1, 2, 3, 7)
# Tight budgets, so that the candidate and rescore cuts decide results (R-ISEARCH-1).
TIGHT = {"nprobe": 2, "candidates": 40, "rescore": 15}
MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"


def generated(n: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    docs = [
        rng.standard_normal((int(rng.integers(2, 24)), DIM)).astype(np.float32) for _ in range(n)
    ]
    ids = [int(x) for x in rng.permutation(10 * n)[:n]]
    return docs, ids


def queries(n: int, seed: int, dim: int = DIM) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((int(rng.integers(3, 10)), dim)).astype(np.float32) for _ in range(n)
    ]


def same(a: list[Any], b: list[Any]) -> bool:
    """The same ids and bit-identical scores, query by query."""
    return len(a) == len(b) and all(
        x.ids == y.ids and x.scores.tobytes() == y.scores.tobytes()
        for x, y in zip(a, b, strict=True)
    )


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    docs, ids = generated(700, 1)
    root = tmp_path_factory.mktemp("sharded")
    one = Index.create(root / "one", docs, ids)
    return {
        "docs": docs,
        "ids": ids,
        "root": root,
        "one": one,
        "by_id": dict(zip(ids, docs, strict=True)),
    }


@pytest.mark.spec("R-INDEX-20")
def test_codec_of_another_index_is_copied_byte_for_byte(tmp_path: Path, collection: dict) -> None:
    """An index created with the codec of another (an opened index, its folder, a codec file)
    has a byte-identical codec file, and holding the same documents returns the same results."""
    one, docs, ids = collection["one"], collection["docs"], collection["ids"]
    codec_bytes = Path(one.codec_path).read_bytes()
    for name, source in (("obj", one), ("dir", one.path), ("file", one.codec_path)):
        other = Index.create(tmp_path / name, docs, ids, codec=source)
        assert Path(other.codec_path).read_bytes() == codec_bytes
    q = queries(12, 2)
    for kw in ({}, {"exhaustive": True}, TIGHT):
        assert same(other.search(q, 10, **kw), one.search(q, 10, **kw))
    # Halves coded with the codec of the whole: exhaustive results over their union are the
    # whole's (exact scores depend only on a document's codes).
    a = Index.create(tmp_path / "a", docs[:350], ids[:350], codec=one)
    b = Index.create(tmp_path / "b", docs[350:], ids[350:], codec=one)
    merged = []
    for x, y in zip(
        a.search(q, 10, exhaustive=True), b.search(q, 10, exhaustive=True), strict=True
    ):
        pairs = sorted(zip(x.ids + y.ids, [*x.scores, *y.scores], strict=True), key=lambda t: -t[1])
        merged.append([i for i, _ in pairs[:10]])
    assert merged == [h.ids for h in one.search(q, 10, exhaustive=True)]


@pytest.mark.spec("R-INDEX-20")
def test_codec_fitted_from_the_sample_rows_is_the_collections(
    tmp_path: Path, collection: dict
) -> None:
    """``fit_codec`` on the rows ``codec_sample`` names writes the codec ``Index.create`` trains
    on the whole collection, byte for byte."""
    one, docs = collection["one"], collection["docs"]
    vectors = np.concatenate(docs)
    k, picks = Index.codec_sample(len(vectors))
    assert k == one.n_centroids
    Index.fit_codec(tmp_path / "codec.lti", vectors[picks], len(vectors), progress=False)
    assert (tmp_path / "codec.lti").read_bytes() == Path(one.codec_path).read_bytes()
    with pytest.raises(InputError, match="R-INDEX-20"):
        Index.fit_codec(tmp_path / "short.lti", vectors[picks[:-1]], len(vectors))


@pytest.mark.spec("R-INDEX-20")
def test_codec_argument_errors(tmp_path: Path, collection: dict) -> None:
    one, docs, ids = collection["one"], collection["docs"], collection["ids"]
    with pytest.raises(InputError, match="R-INDEX-20: nbits"):
        Index.create(tmp_path / "a", docs, ids, codec=one, nbits=4)
    with pytest.raises(InputError, match="R-INDEX-20"):
        Index.create(tmp_path / "b", iter([docs]), ids, codec=one)
    with pytest.raises(InputError, match="R-MAXSIM-7"):
        Index.create(tmp_path / "c", [np.ones((2, DIM + 1), np.float32)], codec=one)
    with pytest.raises(FileNotFoundError):
        Index.create(tmp_path / "d", docs, ids, codec=tmp_path / "nothing.lti")
    (tmp_path / "bad.lti").write_bytes(Path(one.codec_path).read_bytes()[:-3])
    with pytest.raises(IndexFormatError):
        Index.create(tmp_path / "e", docs, ids, codec=tmp_path / "bad.lti")
    assert not (tmp_path / "e").exists()


@pytest.mark.spec("R-DIST-1")
def test_shard_of_is_sha256_of_the_canonical_bytes() -> None:
    """Pinned values, so that other implementations agree, and the rule itself."""
    assert [shard_of(x, 7) for x in (0, 1, -1, 2**63 - 1, "a", "doc-1", "é")] == [
        6,
        3,
        4,
        5,
        2,
        1,
        4,
    ]
    for x, raw in ((5, b"\x00" + (5).to_bytes(8, "little")), ("xy", b"\x01xy")):
        want = int.from_bytes(hashlib.sha256(raw).digest()[:8], "little") % 5
        assert shard_of(x, 5) == want
    with pytest.raises(InputError, match="R-DIST-1"):
        shard_of(2**63, 3)


@pytest.mark.spec("R-DIST-3", "R-DIST-6", "R-DIST-2", "R-DIST-8")
@pytest.mark.parametrize("n_shards", SHARD_COUNTS)
def test_local_sharded_search_equals_one_index(n_shards: int, collection: dict) -> None:
    """R-DIST-3 for 1, 2, 3 and 7 shards: default, tight and exhaustive results are those of
    the index built from the collection in its order (whose codec is the shared one, byte for
    byte), whatever the number of shards."""
    root, one = collection["root"], collection["one"]
    path = root / f"local-{n_shards}"
    with ShardedIndex.create(path, collection["docs"], collection["ids"], n_shards) as sharded:
        assert (path / "codec.lti").read_bytes() == Path(one.codec_path).read_bytes()
        manifest = json.loads((path / "SHARDS").read_text())
        assert manifest["n_shards"] == n_shards
        assert manifest["shards"] == [f"shard-{s:04d}" for s in range(n_shards)]
        owned = group(collection["ids"], n_shards)
        assert sharded.shard_sizes() == [len(x) for x in owned]
        q = queries(16, 3)
        for kw in ({}, TIGHT, {"exhaustive": True}, {"nprobe": 1, "candidates": 5, "rescore": 3}):
            found = sharded.search(q, 10, **kw)
            assert found.complete
            assert same(found, one.search(q, 10, **kw)), kw
        assert same(sharded.search(q, 1000), one.search(q, 1000))  # k >= n_live: exhaustive


@pytest.mark.spec("R-DIST-3", "R-DIST-8")
def test_shared_collection_equal_for_every_shard_count(tmp_path: Path) -> None:
    """Cranfield's 1,400 documents (string ids, the bundled or shared BEIR copy) with seeded
    random embeddings (one token per word, at most 48): for every shard count the results are
    those of the one index of the collection, default, tight and exhaustive."""
    folder = beir_collection("cranfield")
    rng = np.random.default_rng(4)
    docs, ids = [], []
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            words = (row.get("title", "") + " " + row["text"]).split()
            docs.append(rng.standard_normal((min(max(len(words), 1), 48), 24)).astype(np.float32))
            ids.append(row["_id"])
    one = Index.create(tmp_path / "one", docs, ids)
    q = queries(10, 5, dim=24)
    for n in SHARD_COUNTS:
        with ShardedIndex.create(tmp_path / f"s{n}", docs, ids, n) as sharded:
            for kw in ({}, TIGHT, {"exhaustive": True}):
                assert same(sharded.search(q, 20, **kw), one.search(q, 20, **kw)), (n, kw)


@pytest.mark.spec("R-DIST-3")
def test_stages_compose_to_one_search(collection: dict) -> None:
    """On one index, ``stage_probe``, then ``stage_codes`` of its candidates, then
    ``stage_rescore`` of those, give ``Index.search``'s hits and scores; each stage's lists are
    best first, ties to the lower position; the centroid scores ``stage_probe`` keeps give
    ``stage_codes`` the answer of computing them again, and ``keep_bytes`` keeps them for the
    leading queries that fit."""
    one = collection["one"]
    q = queries(6, 21)
    found, kept = one.stage_probe(q, nprobe=2, candidates=40, keep_bytes=2**40)
    assert all(s is not None and s.dtype == np.float32 for s in kept)
    for pos, score in found:
        assert len(pos) == 40
        rank = list(zip((-score).tolist(), pos.tolist(), strict=True))
        assert rank == sorted(rank)
    positions = [pos for pos, _ in found]
    coded = one.stage_codes(q, positions, 15, scores=kept)
    again = one.stage_codes(q, positions, 15)
    for (p1, a1), (p2, a2) in zip(coded, again, strict=True):
        assert p1.tolist() == p2.tolist()
        assert a1.tobytes() == a2.tobytes()
        rank = list(zip((-a1).tolist(), p1.tolist(), strict=True))
        assert len(rank) == 15
        assert rank == sorted(rank)
    exact = one.stage_rescore(q, [pos for pos, _ in coded], 10)
    for (pos, scores), hits in zip(exact, one.search(q, 10, **TIGHT), strict=True):
        assert [one.ids[x] for x in pos.tolist()] == hits.ids
        assert scores.tobytes() == hits.scores.tobytes()
    _, part = one.stage_probe(q, nprobe=2, candidates=40, keep_bytes=2 * kept[0].nbytes)
    assert [s is not None for s in part] == [True, True, False, False, False, False]


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from([-1.0, 0.0, 0.5, 2.0])), max_size=40
    ),
    n=st.integers(1, 40),
)
@pytest.mark.spec("R-DIST-3")
def test_cut_keeps_the_global_order(entries: list[tuple[int, float]], n: int) -> None:
    """R-DIST-3 step 2: of each shard's (collection numbers, scores), best first, the global
    ``n`` best by (score, collection number), ties frequent, as a prefix of each list."""
    found = {}
    for s in {s for s, _ in entries}:
        mine = sorted((-x, number) for number, (t, x) in enumerate(entries) if t == s)
        found[s] = (
            np.asarray([number for _, number in mine], np.int64),
            np.asarray([-x for x, _ in mine], np.float32),
        )
    best = sorted((-x, number, s) for number, (s, x) in enumerate(entries))[:n]
    assert cut(found, n) == {s: sum(1 for r in best if r[2] == s) for s in found}


@pytest.mark.spec("R-DIST-3", "R-DIST-5")
def test_a_commit_between_stages_runs_the_search_again(
    tmp_path: Path, collection: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit to a shard between a search's stages (its positions may then name other
    documents): the search runs again and answers as the index after the commit; commits
    before every try raise ``ShardUnavailableError``; with no centroid scores kept between
    stages (``KEEP_BYTES`` 0) the answers are the same."""
    docs, ids = collection["docs"][:300], collection["ids"][:300]
    sharded = ShardedIndex.create(tmp_path / "s", docs, ids, 3)
    pool, real = sharded.pool, sharded.pool.call
    q = queries(5, 23)
    plan = {"commits": 1, "probes": 0}

    def call(calls: dict[int, tuple[str, tuple[Any, ...]]], timeout: float | None) -> Any:
        out = real(calls, timeout)
        if any(name == "probe" for name, _ in calls.values()):
            plan["probes"] += 1
            if plan["commits"]:
                plan["commits"] -= 1
                for s in calls:  # a commit to every shard between stages 1 and 2
                    pool.workers[s].delete(pool.workers[s].index.live_ids[:1])
        return out

    monkeypatch.setattr(pool, "call", call)
    got = sharded.search(q, 10, **TIGHT)
    assert plan == {"commits": 0, "probes": 2}
    monkeypatch.setattr(pool, "call", real)
    with ShardedIndex.open(tmp_path / "s") as fresh:
        assert fresh.n_live == 297
        assert same(got, fresh.search(q, 10, **TIGHT))
        monkeypatch.setattr(shard_module, "KEEP_BYTES", 0)
        assert same(fresh.search(q, 10, **TIGHT), got)
    plan["commits"] = 10
    monkeypatch.setattr(pool, "call", call)
    with pytest.raises(ShardUnavailableError, match="R-DIST-5: the shards changed"):
        sharded.search(q, 10, **TIGHT)


@pytest.mark.spec("R-DIST-4", "R-DIST-7", "R-DIST-8")
def test_live_operations_route_to_the_owning_shard(tmp_path: Path, collection: dict) -> None:
    """Adds (a new shard included), upserts, deletes and compaction go to the owning shard;
    after each, the results are those of one index given the same collection and the same
    operations (default, tight, exhaustive); a shard whose every document is deleted becomes
    empty at compaction and takes documents again; a worker reopened sees the last commits."""
    docs, ids = collection["docs"][:60], collection["ids"][:60]
    sharded = ShardedIndex.create(tmp_path / "s", docs, ids, 7)
    one = Index.create(tmp_path / "one", docs, ids, codec=sharded.layout.codec)
    q = queries(8, 6)

    def check(step: str) -> None:
        assert sharded.n_docs == len(one), step
        assert sharded.n_live == one.n_live, step
        for kw in ({}, TIGHT, {"exhaustive": True}, {"nprobe": 1, "candidates": 4, "rescore": 2}):
            assert same(sharded.search(q, 10, **kw), one.search(q, 10, **kw)), (step, kw)

    check("create")
    extra, extra_ids = generated(40, 9)
    extra_ids = [x + 10**6 for x in extra_ids]
    before = sharded.shard_sizes()
    sharded.add(extra, extra_ids)
    one = one.add(extra, extra_ids)
    added = [len(x) for x in group(extra_ids, 7)]
    assert sharded.shard_sizes() == [a + b for a, b in zip(before, added, strict=True)]
    check("add")
    with pytest.raises(InputError, match="already in the index"):
        sharded.add(extra[:1], extra_ids[:1])
    with pytest.raises(InputError, match="R-INDEX-10"):
        sharded.delete([ids[0], -5])
    assert sharded.n_live == 100  # nothing changed
    new = np.ones((3, DIM), np.float32)
    sharded.add([new], [ids[1]], upsert=True)
    one = one.add([new], [ids[1]], upsert=True)
    check("upsert")
    sharded.delete([ids[0], extra_ids[0]])
    one = one.delete([ids[0], extra_ids[0]])
    check("delete")
    # Every document of one shard deleted: compaction empties it, then it takes one again.
    lonely = next(s for s in range(7) if 0 < sharded.shard_sizes()[s] < 20)
    gone = [x for x in ids + extra_ids if shard_of(x, 7) == lonely and x not in (ids[0],)]
    gone = [x for x in gone if x in set(Index.open(sharded.layout.shard(lonely)).live_ids)]
    sharded.delete(gone)
    one = one.delete(gone)
    check("delete a shard's every document")
    sharded.compact()
    one = one.compact()
    assert sharded.n_docs == sharded.n_live == one.n_live
    assert not os.listdir(sharded.layout.shard(lonely))  # an empty shard, as never filled
    check("compact")
    back = [gone[0]]
    sharded.add([new + 1], back)
    one = one.add([new + 1], back)
    check("add after compaction")
    again = ShardedIndex.open(tmp_path / "s")
    assert same(again.search(q, 10, **TIGHT), sharded.search(q, 10, **TIGHT))
    sharded.pool.restart(3)  # a local worker reopens its shard's last commit
    assert same(sharded.search(q, 10), again.search(q, 10))


@pytest.mark.spec("R-DIST-2")
def test_a_shard_with_another_codec_is_refused(tmp_path: Path, collection: dict) -> None:
    docs, ids = collection["docs"][:80], collection["ids"][:80]
    ShardedIndex.create(tmp_path / "s", docs, ids, 2).close()
    shard0 = tmp_path / "s" / "shard-0000"
    kept = Index.open(shard0)
    other = Index.create(tmp_path / "other", [d + 1 for d in docs], ids, seed=3)
    for name, _ in kept.files():
        os.remove(shard0 / name)
    for name, _ in other.files():
        (shard0 / name).write_bytes((Path(other.path) / name).read_bytes())
    with pytest.raises(IndexFormatError, match="R-DIST-2"):
        ShardedIndex.open(tmp_path / "s")
    (tmp_path / "s" / "SHARDS").write_text("{}")
    with pytest.raises(IndexFormatError, match="R-DIST-2"):
        ShardedIndex.open(tmp_path / "s")
    with pytest.raises(InputError, match="R-DIST-2"):
        ShardedIndex.create(tmp_path / "s", docs, ids, 2)


@pytest.mark.spec("R-DIST-2")
def test_a_lost_shard_folder_is_refused_not_empty(tmp_path: Path, collection: dict) -> None:
    """Every shard's folder exists after a build, even one given no document (7 shards of 3
    documents); a folder missing at opening is a format error, never an empty shard."""
    docs, ids = collection["docs"][:3], collection["ids"][:3]
    ShardedIndex.create(tmp_path / "s", docs, ids, 7).close()
    folders = sorted(p.name for p in (tmp_path / "s").glob("shard-*"))
    assert folders == [f"shard-{s:04d}" for s in range(7)]
    sharded = ShardedIndex.open(tmp_path / "s")
    (hits,) = sharded.search(queries(1, 12), k=3, exhaustive=True)
    assert sorted(hits.ids) == sorted(ids)
    sharded.close()
    full = next(p for p in (tmp_path / "s").glob("shard-*") if (p / "MANIFEST").exists())
    shutil.rmtree(full)
    with pytest.raises(IndexFormatError, match=r"R-DIST-2.*missing"):
        ShardedIndex.open(tmp_path / "s")


@pytest.mark.spec("R-DIST-8")
def test_collection_numbers_file(tmp_path: Path, collection: dict) -> None:
    """Each shard's collection numbers: the file's bytes as R-DIST-8 lays them out, its damage
    or loss refused at opening, older generations' files removed after a commit, and a number
    a shard does not hold refused."""
    docs, ids = collection["docs"][:50], collection["ids"][:50]
    ShardedIndex.create(tmp_path / "s", docs, ids, 2).close()
    owned = group(ids, 2)
    f = Path(layout.order_file(str(tmp_path / "s"), 0, 1))
    raw = f.read_bytes()
    assert raw[:8] == b"LTIORDER"
    assert struct.unpack("<QQ", raw[8:24]) == (1, len(owned[0]))
    assert np.frombuffer(raw[24:-32], "<u8").tolist() == owned[0]
    assert raw[-32:] == hashlib.sha256(raw[:-32]).digest()
    flipped = raw[:30] + bytes([raw[30] ^ 1]) + raw[31:]
    for damaged in (flipped, raw[:-8], b""):
        f.write_bytes(damaged)
        with pytest.raises(IndexFormatError, match="R-DIST-8"):
            ShardedIndex.open(tmp_path / "s")
    f.unlink()
    with pytest.raises(IndexFormatError, match="R-DIST-8"):
        ShardedIndex.open(tmp_path / "s")
    f.write_bytes(raw)
    sharded = ShardedIndex.open(tmp_path / "s")
    for x in owned[0][:3]:
        sharded.delete([ids[x]])
    names = sorted(os.listdir(tmp_path / "s" / "order"))
    assert names == ["shard-0000-0000000003", "shard-0000-0000000004", "shard-0001-0000000001"]
    with pytest.raises(InputError, match="R-DIST-8: shard 0 holds no document numbered 999"):
        sharded.pool.workers[0].rescore(queries(1, 2), [np.array([999])], 3)


@pytest.mark.spec("R-DIST-3", "R-DIST-5", "R-DIST-6")
def test_search_arguments_are_checked(tmp_path: Path, collection: dict) -> None:
    docs, ids = collection["docs"][:50], collection["ids"][:50]
    sharded = ShardedIndex.create(tmp_path / "s", docs, ids, 2)
    q = queries(2, 12)
    for kw, rule in (
        ({"k": 0}, "R-SEARCH-2"),
        ({"candidates": 0}, "R-ISEARCH-3"),
        ({"nprobe": 10**6}, "R-ISEARCH-3"),
        ({"timeout": -1.0}, "R-DIST-5"),
        ({"allow_partial": 1}, "R-DIST-5"),
    ):
        with pytest.raises(InputError, match=rule):
            sharded.search(q, **kw)
    assert sharded.search([]) == []
    with pytest.raises(InputError, match="R-DIST-6"):
        ShardedIndex.create(tmp_path / "t", docs, ids, 2, ray=5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="R-DIST-1"):
        ShardedIndex.create(tmp_path / "u", docs, ids, 0)
    with pytest.raises(InputError, match="R-DIST-4"):
        sharded.add(docs[:1], None)  # the ids choose the shards


# Ray: one local cluster for the module (started only if these tests run).


@pytest.fixture(scope="module")
def ray_session() -> Any:
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.mark.spec("R-DIST-3", "R-DIST-6")
def test_ray_build_and_search_equal_local(
    ray_session: Any, tmp_path: Path, collection: dict
) -> None:
    """Ray tasks build the same shard files as local mode, byte for byte, and Ray actors return
    the same results, for 3 and 7 shards."""
    docs, ids = collection["docs"], collection["ids"]
    q = queries(12, 7)
    for n in (3, 7):
        local = ShardedIndex.create(tmp_path / f"local{n}", docs, ids, n)
        with ShardedIndex.create(tmp_path / f"ray{n}", docs, ids, n, ray="auto") as remote:
            for s in range(n):
                a, b = Index.open(local.layout.shard(s)), Index.open(remote.layout.shard(s))
                for (name, _), _ in zip(a.files(), b.files(), strict=True):
                    assert (Path(a.path) / name).read_bytes() == (Path(b.path) / name).read_bytes()
            for kw in ({}, TIGHT, {"exhaustive": True}):
                assert same(remote.search(q, 10, **kw), local.search(q, 10, **kw))


@pytest.mark.spec("R-DIST-5", "R-DIST-7", "R-DIST-4")
def test_killed_shard_actor(ray_session: Any, tmp_path: Path, collection: dict) -> None:
    """A shard actor killed while a query waits on it: ``ShardUnavailableError`` naming it (or,
    with ``allow_partial``, an answer naming it missing); a slow shard past ``timeout`` likewise;
    after the restart the next query is complete and as before, and commits made through the
    restarted actor are seen."""
    docs, ids = collection["docs"], collection["ids"]
    sharded = ShardedIndex.create(tmp_path / "s", docs, ids, 3, ray="auto")
    q = queries(6, 8)
    before = sharded.search(q, 10)
    for partial in (False, True):
        busy = sharded.pool.actor(1).wait.remote(30)
        out: dict[str, Any] = {}

        def ask(partial: bool = partial, out: dict[str, Any] = out) -> None:
            try:
                out["answer"] = sharded.search(q, 10, allow_partial=partial)
            except ShardUnavailableError as exc:
                out["error"] = exc

        t = threading.Thread(target=ask)
        t.start()
        time.sleep(1.0)  # the search's calls are queued behind the busy actor by then
        ray_session.kill(sharded.pool.actor(1), no_restart=False)
        t.join(60)
        del busy
        if partial:
            assert out["answer"].missing == [1]
            assert all(len(h.ids) == 10 for h in out["answer"])
        else:
            assert out["error"].shards == [1]
            assert str(out["error"]).startswith("R-DIST-5")
        sharded.wait_ready(60)
        after = sharded.search(q, 10)
        assert after.complete
        assert same(after, before)
    slow = sharded.pool.actor(2).wait.remote(3)
    with pytest.raises(ShardUnavailableError, match=r"R-DIST-5: shards \[2\]"):
        sharded.search(q, 10, timeout=0.5)
    ray_session.get(slow)
    extra, extra_ids = generated(5, 11)
    sharded.add(extra, [x + 10**7 for x in extra_ids])
    pid = ray_session.get(sharded.pool.actor(0).info.remote())["pid"]
    ray_session.kill(sharded.pool.actor(0), no_restart=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the kill is asynchronous: until the new actor answers
        try:
            sharded.wait_ready(60)
            if ray_session.get(sharded.pool.actor(0).info.remote())["pid"] != pid:
                break
        except (ShardUnavailableError, ray_session.exceptions.RayActorError):
            time.sleep(0.1)
    assert sharded.n_docs == len(ids) + 5  # the restarted actor opened the last commit
    assert sharded.search(q, 10).complete
    sharded.close()


@pytest.mark.spec("R-DIST-6")
def test_core_imports_without_ray() -> None:
    """Ray is optional: importing the package and the sharded index imports no Ray."""
    code = "import sys, lateint_ref, lateint_ref.distributed; assert 'ray' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.spec("R-DIST-6", "R-DIST-3")
def test_command_line_sharded_build_and_search(tmp_path: Path) -> None:
    """``lateint index --shards 3 --ray local`` then ``lateint search`` on the sharded folder:
    the ids and scores of the Python API's search with the model the manifest records."""
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"_id": f"d{i}", "text": f"document {i} about wings and flow number {i % 7}"}
        for i in range(40)
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "sharded"
    built = lateint("index", corpus, "--model", MODEL, "--index", out, "--shards", 3, "--json")
    assert built.returncode == 0, built.stderr
    assert sum(json.loads(built.stdout)["shards"]) == 40
    found = lateint("search", "--index", out, "wing flow", "--k", 5, "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)[0]["hits"]
    from lateint_ref.distributed import commands

    want = commands.search(
        str(out), ["wing flow"], 5, ray="local", backend="numpy", precision="auto"
    )
    assert [h["id"] for h in hits] == want[0].ids
    assert [h["score"] for h in hits] == [float(s) for s in want[0].scores]
