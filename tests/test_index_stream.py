"""The streaming build (spec/index.md R-INDEX-17): ``Index.create`` from an iterator of batches,
spilled to a file of the index folder and coded in chunks, each its own segment of the first
commit. Its codec is the in-memory build's byte for byte, so its search results (and its
compaction's) are the in-memory index's (R-ISEARCH-8); whatever stops it leaves the path as it
was (R-INDEX-8), and a killed one leaves leftovers that a new create clears (R-INDEX-13)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lateint_ref import Index, IndexLockedError, InputError, _native
from lateint_ref.index import writer

ROOT = Path(__file__).resolve().parent.parent


class Stop(ValueError):
    """Raised by the callbacks and generators below: a ValueError that is not an InputError."""


def _documents(seed: int, n_docs: int, dim: int = 16, max_len: int = 30) -> list[np.ndarray]:
    """Seeded clustered float32 documents of 1..max_len tokens."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, max_len + 1, n_docs)
    centres = rng.standard_normal((12, dim))
    x = centres[rng.integers(0, 12, int(lens.sum()))] + 0.3 * rng.standard_normal(
        (int(lens.sum()), dim)
    )
    x = x.astype(np.float32)
    bounds = np.cumsum([0, *lens])
    return [x[a:b] for a, b in itertools.pairwise(bounds)]


def _batches(docs: list[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    """The documents in lists of ``size``, lazily."""
    for i in range(0, len(docs), size):
        yield docs[i : i + size]


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.name != "LOCK"}


def _queries(seed: int, n: int, dim: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((int(rng.integers(1, 9)), dim)).astype(np.float32) for _ in range(n)
    ]


SEARCHES: list[dict[str, Any]] = [
    {"k": 10},
    {"k": 3, "nprobe": 1},
    {"k": 7, "nprobe": 2, "candidates": 5, "rescore": 3},
    {"k": 20, "candidates": 40, "rescore": 25},
    {"k": 5, "exhaustive": True},
]


def _same_hits(a: Index, b: Index, queries: list[np.ndarray]) -> None:
    """The same ids and bit-identical scores for every query and search parameter set."""
    for search in SEARCHES:
        params = dict(search)  # nprobe at most K (R-ISEARCH-3): few centroids in a tiny index
        if "nprobe" in params:
            params["nprobe"] = min(params["nprobe"], a.n_centroids)
        for ha, hb in zip(a.search(queries, **params), b.search(queries, **params), strict=True):
            assert ha.ids == hb.ids, params
            assert np.array_equal(ha.scores, hb.scores), params


# ----------------------------------------------------------------------------- same codec


@pytest.mark.spec("R-INDEX-17")
@pytest.mark.parametrize(
    ("nbits", "seed", "params"),
    [
        (2, 0, {}),
        (1, 7, {"n_centroids": 32, "sample": 700}),
        (4, 3, {"n_centroids": 64, "sample": 1500, "kmeans_iters": 6}),
        (2, 11, {"n_centroids": 5, "kmeans_iters": 0}),
    ],
)
def test_codec_is_the_in_memory_builds(
    tmp_path: Path, nbits: int, seed: int, params: dict[str, Any]
) -> None:
    """R-INDEX-17: the codec file of a streamed build, cut into many segments, is byte for byte
    the in-memory build's of the same documents and parameters (same sample, k-means and
    buckets); the segments hold the documents in order, at most ``segment_tokens`` tokens each,
    named segment-1.lti, segment-1-2.lti, ...; the spill file is gone."""
    docs = _documents(seed, 300)
    ref = Index.create(tmp_path / "ref", docs, nbits=nbits, seed=seed, **params)
    streamed = Index.create(
        tmp_path / "s", _batches(docs, 17), nbits=nbits, seed=seed, segment_tokens=400, **params
    )
    assert (tmp_path / "s" / "codec-1.lti").read_bytes() == (
        tmp_path / "ref" / "codec-1.lti"
    ).read_bytes()
    segments = streamed.segments()
    assert len(segments) > 5
    assert [name for name, _ in segments] == [
        "segment-1.lti",
        *(f"segment-1-{i}.lti" for i in range(2, len(segments) + 1)),
    ]
    assert sum(n for _, n in segments) == len(docs)
    start = 0
    for _, n in segments:
        assert sum(len(d) for d in docs[start : start + n]) <= 400
        start += n
    assert streamed.ids == ref.ids == list(range(len(docs)))
    assert streamed.stats()["n_tokens"] == ref.stats()["n_tokens"]
    assert not (tmp_path / "s" / "spill-1.f32").exists()
    assert sorted(_files(tmp_path / "s")) == sorted(["MANIFEST", "codec-1.lti", *dict(segments)])
    decoded_ref = ref.decode(list(range(len(docs))))
    decoded = streamed.decode(list(range(len(docs))))
    assert all(np.array_equal(x, y) for x, y in zip(decoded, decoded_ref, strict=True))


@pytest.mark.spec("R-INDEX-17")
def test_one_chunk_gives_the_in_memory_files(tmp_path: Path) -> None:
    """R-INDEX-17: a stream whose documents fit one chunk gives byte-identical files (manifest,
    codec, segment)."""
    docs = _documents(1, 120)
    Index.create(tmp_path / "ref", docs, seed=5)
    Index.create(tmp_path / "s", _batches(docs, 7), seed=5)
    assert _files(tmp_path / "s") == _files(tmp_path / "ref")


@pytest.mark.spec("R-INDEX-12", "R-INDEX-17", "R-INDEX-18", "R-ISEARCH-8")
def test_hits_and_compaction_are_the_in_memory_index(tmp_path: Path) -> None:
    """R-INDEX-17, R-ISEARCH-8, R-INDEX-12: a streamed index of many segments returns the ids and
    bit-identical scores of the in-memory one, default pipeline and exhaustive, for several
    parameter sets, and the same far-token figures (R-INDEX-18); compacting both gives
    byte-identical files, and the same hits."""
    docs = _documents(2, 400)
    queries = _queries(3, 12)
    ref = Index.create(tmp_path / "ref", docs, n_centroids=64)
    streamed = Index.create(tmp_path / "s", _batches(docs, 25), n_centroids=64, segment_tokens=500)
    assert len(streamed.segments()) > 10
    _same_hits(streamed, ref, queries)
    # R-INDEX-18: the same far threshold, and the same far tokens counted over the segments.
    for key in ("far_threshold", "far_tokens", "far_share", "n_tokens"):
        assert streamed.stats()[key] == ref.stats()[key], key
    ref_c, streamed_c = ref.compact(), streamed.compact()
    assert streamed_c.segments() == [("segment-2.lti", len(docs))]
    assert _files(tmp_path / "s") == _files(tmp_path / "ref")
    _same_hits(streamed_c, ref_c, queries)
    _same_hits(streamed_c, ref, queries)


@pytest.mark.spec("R-INDEX-17", "R-ISEARCH-8")
@settings(max_examples=max(10, settings().max_examples // 6))
@given(
    seed=st.integers(0, 2**32 - 1),
    n_docs=st.integers(1, 60),
    batch=st.integers(1, 20),
    segment_tokens=st.integers(1, 300),
)
def test_any_batching_and_chunking_gives_the_same_codec_and_hits(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    n_docs: int,
    batch: int,
    segment_tokens: int,
) -> None:
    """R-INDEX-17, R-ISEARCH-8: however the stream is batched and the documents are chunked, the
    codec is the in-memory build's and every search returns the same ids and scores."""
    tmp = tmp_path_factory.mktemp("any")
    docs = _documents(seed, n_docs, dim=8, max_len=12)
    ref = Index.create(tmp / "ref", docs, seed=seed)
    streamed = Index.create(
        tmp / "s", _batches(docs, batch), seed=seed, segment_tokens=segment_tokens
    )
    assert (tmp / "s" / "codec-1.lti").read_bytes() == (tmp / "ref" / "codec-1.lti").read_bytes()
    _same_hits(streamed, ref, _queries(seed, 4, dim=8))


@pytest.mark.spec("R-INDEX-17", "R-KMEANS-5")
@pytest.mark.parametrize("threads", [1, 2])
def test_files_do_not_depend_on_threads(tmp_path: Path, threads: int) -> None:
    """R-INDEX-17, R-KMEANS-5: a streamed build writes the same bytes on 1 and on 2 threads."""
    docs = _documents(4, 200)
    Index.create(tmp_path / "a", _batches(docs, 9), threads=threads, segment_tokens=300)
    Index.create(tmp_path / "b", _batches(docs, 40), threads=None, segment_tokens=300)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


# ----------------------------------------------------------------------------- inputs


@pytest.mark.spec("R-INDEX-17")
def test_batches_of_every_form(tmp_path: Path) -> None:
    """R-INDEX-17: each batch may be a list of arrays, a packed pair, a 3-d array or float16
    arrays, and a batch of no document is skipped; the index is the in-memory one of the
    documents in stream order."""
    rng = np.random.default_rng(6)
    a = _documents(7, 30)
    packed = _documents(8, 20)
    cube = rng.standard_normal((10, 5, 16)).astype(np.float32)
    half = [d.astype(np.float16) for d in _documents(9, 15)]
    lengths = [len(d) for d in packed]
    offsets = np.concatenate([[0], np.cumsum(lengths)])

    def stream() -> Iterator[Any]:
        yield a
        yield []
        yield (np.concatenate(packed), offsets)
        yield cube
        yield np.zeros((0, 5, 16), dtype=np.float32)
        yield half

    every = [*a, *packed, *cube, *(d.astype(np.float32) for d in half)]
    Index.create(tmp_path / "ref", every, seed=2)
    index = Index.create(tmp_path / "s", stream(), seed=2)
    assert len(index) == len(every)
    assert _files(tmp_path / "s") == _files(tmp_path / "ref")
    Index.create(tmp_path / "it", iter([a, (np.concatenate(packed), offsets), cube]), seed=2)
    assert len(Index.open(tmp_path / "it")) == 60


@pytest.mark.spec("R-INDEX-5", "R-INDEX-17")
@pytest.mark.parametrize("kind", ["int", "str", "iterator"])
def test_ids_of_each_kind(tmp_path: Path, kind: str) -> None:
    """R-INDEX-17, R-INDEX-5: ids given as a sequence of ints or of strings, or as an iterator,
    are those of the in-memory build; ``None`` numbers the documents from 0."""
    docs = _documents(10, 90)
    ids: Any = {
        "int": [int(x) for x in np.random.default_rng(0).permutation(1000)[:90] - 500],
        "str": [f"doc-{i}-é" for i in range(90)],
        "iterator": (f"d{i}" for i in range(90)),
    }[kind]
    listed = list(ids) if kind == "iterator" else ids
    ref = Index.create(tmp_path / "ref", docs, listed, segment_tokens=10)
    streamed = Index.create(
        tmp_path / "s",
        _batches(docs, 11),
        iter(listed) if kind == "iterator" else ids,
        segment_tokens=200,
    )
    assert streamed.ids == ref.ids == listed
    _same_hits(streamed, ref, _queries(1, 5))


@pytest.mark.spec("R-INDEX-5", "R-INDEX-17")
@pytest.mark.parametrize(
    ("ids", "match"),
    [
        (list(range(89)), r"^R-INDEX-5: 89 ids for 90 documents"),
        ([*range(89), 3], r"^R-INDEX-5: id 3 appears twice"),
        ([*range(89), "x"], r"^R-INDEX-5: ids must be all ints or all strings"),
        ({1, 2}, r"^R-INDEX-5: ids must be a sequence"),
    ],
)
def test_bad_ids(tmp_path: Path, ids: Any, match: str) -> None:
    """R-INDEX-17, R-INDEX-5: bad ids raise InputError; the path is left as it was."""
    with pytest.raises(InputError, match=match):
        Index.create(tmp_path / "s", _batches(_documents(10, 90), 11), ids)
    assert not (tmp_path / "s").exists()


@pytest.mark.spec(
    "R-INDEX-17", "R-MAXSIM-5", "R-MAXSIM-6", "R-MAXSIM-7", "R-MAXSIM-8", "R-MAXSIM-9"
)
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones((3, 8), dtype=np.float32), r"^R-MAXSIM-7: batch dim 8 != dim 16"),
        (np.full((3, 16), np.nan, dtype=np.float32), r"^R-MAXSIM-9: "),
        (np.zeros((0, 16), dtype=np.float32), r"^R-MAXSIM-8: "),
        (np.ones((3, 16), dtype=np.int32), r"^R-MAXSIM-5: "),
        (np.ones((3, 2, 2, 16), dtype=np.float32), r"^R-MAXSIM-6: "),
    ],
)
@pytest.mark.parametrize("exists", [False, True])
def test_bad_batch(tmp_path: Path, bad: np.ndarray, match: str, exists: bool) -> None:
    """R-INDEX-17: a bad batch raises InputError starting with the rule it broke and naming
    R-INDEX-17 and the batch number; nothing is left (an empty folder stays empty)."""
    docs = _documents(11, 40)
    path = tmp_path / "s"
    if exists:
        path.mkdir()

    def stream() -> Iterator[Any]:
        yield docs[:20]
        yield docs[20:]
        if bad.ndim == 4:
            yield bad
        elif bad.shape[1] != 16:  # a batch of another dim reaches the native check
            yield [bad]
        else:
            yield [docs[0], bad]
        pytest.fail("the stream was read past the bad batch")

    with pytest.raises(InputError, match=match) as info:
        Index.create(path, stream())
    assert "(batch 2 of the stream, R-INDEX-17)" in str(info.value)
    if exists:
        assert list(path.iterdir()) == []
    else:
        assert not path.exists()


@pytest.mark.spec("R-INDEX-5", "R-INDEX-17")
@pytest.mark.parametrize("stream", [[], [[], np.zeros((0, 4, 8), np.float32)]])
def test_empty_stream(tmp_path: Path, stream: list[Any]) -> None:
    """R-INDEX-17, R-INDEX-5: a stream with no document raises R-INDEX-5's error; nothing left."""
    with pytest.raises(InputError, match=r"^R-INDEX-5: an index needs at least one document"):
        Index.create(tmp_path / "s", iter(stream))
    assert not (tmp_path / "s").exists()


@pytest.mark.spec("R-INDEX-17")
@pytest.mark.parametrize("bad", [0, -3, 1.5, True, None])
def test_bad_segment_tokens(tmp_path: Path, bad: Any) -> None:
    """R-INDEX-17: segment_tokens must be an integer >= 1, on either path, checked before the
    stream is read."""
    docs = _documents(12, 10)
    for documents in (docs, _batches(docs, 3)):
        with pytest.raises(InputError, match=r"^R-INDEX-17: segment_tokens must be an integer"):
            Index.create(tmp_path / "s", documents, segment_tokens=bad)
        assert not (tmp_path / "s").exists()


@pytest.mark.spec("R-INDEX-14", "R-INDEX-17")
def test_locked_folder_is_refused_before_reading(tmp_path: Path) -> None:
    """R-INDEX-17, R-INDEX-14: the lock is taken before the stream is read: a folder another
    writer holds raises IndexLockedError and the iterator is not advanced."""
    path = tmp_path / "s"
    path.mkdir()
    holder = _native.IndexSpill(str(path))
    read: list[int] = []

    def stream() -> Iterator[Any]:
        read.append(1)
        yield _documents(13, 5)

    try:
        with pytest.raises(IndexLockedError, match="R-INDEX-14"):
            Index.create(path, stream())
        assert read == []
    finally:
        holder.close()
    assert list(path.iterdir()) == []
    assert len(Index.create(path, stream())) == 5


# ----------------------------------------------------------------------------- stopping


@pytest.mark.spec("R-INDEX-8", "R-INDEX-17")
def test_iterator_errors_propagate_and_leave_nothing(tmp_path: Path) -> None:
    """R-INDEX-17, R-INDEX-8: an exception of the iterator (KeyboardInterrupt included) reaches
    the caller unchanged; the spill file, LOCK and the folder created are removed."""
    docs = _documents(14, 50)
    for exc in (Stop("from the stream"), KeyboardInterrupt()):

        def stream(exc: BaseException = exc) -> Iterator[Any]:
            yield docs[:25]
            assert (tmp_path / "s" / "spill-1.f32").stat().st_size == 4 * 16 * sum(
                len(d) for d in docs[:25]
            )
            raise exc

        with pytest.raises(type(exc)) as info:
            Index.create(tmp_path / "s", stream())
        assert info.value is exc
        assert not (tmp_path / "s").exists()


def _stop_at(n: int, seen: list[tuple[str, int, int]]) -> Callable[[str, int, int], None]:
    count = iter(range(n + 1))

    def callback(stage: str, done: int, total: int) -> None:
        seen.append((stage, done, total))
        if next(count) == n:
            raise Stop(f"stop at {stage} {done}/{total}")

    return callback


def _native_stream(
    path: Path, docs: list[np.ndarray], progress: Callable[[str, int, int], None] | None
) -> None:
    """The streaming build through the native writer with a progress callback."""
    spill = _native.IndexSpill(str(path))
    try:
        for batch in _batches(docs, 13):
            lengths = [len(d) for d in batch]
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            spill.push(np.concatenate(batch), offsets)
        ids = np.arange(len(docs), dtype=np.int64)
        spill.build(ids, 2, 0, 16, 500, 3, "{}", 600, 2, progress)
    finally:
        spill.close()


@pytest.mark.spec("R-INDEX-8", "R-INDEX-17")
def test_callback_error_stops_a_streamed_build(tmp_path: Path) -> None:
    """R-INDEX-17, R-INDEX-8: a progress callback's error at the first report of each stage (and
    the last report) stops the build of a stream and is raised unchanged; nothing is committed
    and the path is as before (absent), so the same build then gives the reference files."""
    docs = _documents(15, 120)
    calls: list[tuple[str, int, int]] = []
    _native_stream(tmp_path / "ref", docs, lambda *c: calls.append(c))
    stages = {c[0] for c in calls}
    m = len(Index.open(tmp_path / "ref").segments())
    assert m >= 3
    chunks = {f"{s} {i}/{m}" for s in ("read", "assign", "encode", "write") for i in (1, m)}
    assert {"sample", "k-means", "assign", "buckets", "write", *chunks} <= stages
    stops = sorted({calls.index(next(c for c in calls if c[0] == s)) for s in stages})
    for n in [*stops, len(calls) - 1]:
        path = tmp_path / f"stopped-{n}"
        seen: list[tuple[str, int, int]] = []
        with pytest.raises(Stop) as info:
            _native_stream(path, docs, _stop_at(n, seen))
        assert type(info.value) is Stop
        assert str(info.value) == "stop at {} {}/{}".format(*calls[n])
        assert seen == calls[: n + 1]
        assert not path.exists(), sorted(p.name for p in path.iterdir())
    _native_stream(path, docs, None)
    assert _files(path) == _files(tmp_path / "ref")


@pytest.mark.spec("R-INDEX-8", "R-INDEX-17")
@pytest.mark.parametrize("stage", ["sample", "k-means", "read 2/4", "encode 3/4"])
def test_keyboard_interrupt_from_the_callback_stops_a_streamed_build(
    tmp_path: Path, stage: str
) -> None:
    """R-INDEX-17, R-INDEX-8: KeyboardInterrupt raised by the progress callback during the build
    of a stream stays KeyboardInterrupt, and the path is left absent."""

    def callback(at: str, done: int, total: int) -> None:
        if at == stage:
            raise KeyboardInterrupt

    docs = _documents(15, 120)
    assert (
        len(Index.create(tmp_path / "ref", _batches(docs, 13), segment_tokens=600).segments()) == 4
    )
    with pytest.raises(KeyboardInterrupt):
        _native_stream(tmp_path / "i", docs, callback)
    assert not (tmp_path / "i").exists()


# ----------------------------------------------------------------------------- leftovers


@pytest.mark.spec("R-INDEX-6", "R-INDEX-13", "R-INDEX-17")
def test_leftovers_of_a_streamed_build_are_cleared(tmp_path: Path) -> None:
    """R-INDEX-13, R-INDEX-17: a folder holding only what a first commit leaves (a spill file,
    chunk segments, their temporaries) is created into, by a stream or at once; any other file
    (a segment name a first commit does not write) is refused."""
    docs = _documents(16, 40)
    leftovers = [
        "LOCK",
        "spill-1.f32",
        "spill-1.f32.tmp",
        "codec-1.lti",
        "segment-1.lti",
        "segment-1-2.lti",
        "segment-1-17.lti.tmp",
        "MANIFEST.tmp",
    ]
    for name, documents in (("a", _batches(docs, 6)), ("b", docs)):
        path = tmp_path / name
        path.mkdir()
        for f in leftovers:
            (path / f).write_bytes(b"partial")
        assert writer.is_uncommitted(path)
        index = Index.create(path, documents, segment_tokens=100)
        assert len(index) == 40
        assert sorted(p.name for p in path.iterdir()) == sorted(
            ["LOCK", "MANIFEST", "codec-1.lti", *dict(index.segments())]
        )
    for foreign in ("segment-1-x.lti", "segment-1-.lti", "spill-2.f32", "segment-2-2.lti"):
        path = tmp_path / foreign
        path.mkdir()
        (path / "spill-1.f32").write_bytes(b"")
        (path / foreign).write_bytes(b"mine")
        with pytest.raises(InputError, match="R-INDEX-6"):
            Index.create(path, _batches(docs, 6))
        assert sorted(p.name for p in path.iterdir()) == sorted(["spill-1.f32", foreign])


# The child streams batches into an index and SIGKILLs itself: while reading the stream (after
# the second batch), or from its progress hook at the first report of a stage of the build.
KILLED = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from lateint_ref import _native

    path, where = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    spill = _native.IndexSpill(path)
    for b in range(6):
        if where == "stream" and b == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        spill.push(rng.standard_normal((400, 16), dtype=np.float32), np.arange(0, 401, 4))

    def hook(stage, done, total):
        if stage == where:
            os.kill(os.getpid(), signal.SIGKILL)

    spill.build(np.arange(600), 2, 0, 32, None, 2, "{}", 500, None, hook)
    """
)


@pytest.mark.spec("R-INDEX-13", "R-INDEX-17")
@pytest.mark.parametrize("where", ["stream", "k-means", "encode 2/5", "write 4/5"])
def test_killed_streamed_build_can_be_created_again(tmp_path: Path, where: str) -> None:
    """R-INDEX-13, R-INDEX-17: a streamed build killed (SIGKILL) while reading the stream or
    during the build leaves a spill file and maybe a codec and segments: a folder with no
    commit, which the same create then builds into, leaving only the committed files."""
    path = tmp_path / "s"
    child = subprocess.run(
        [sys.executable, "-c", KILLED, str(path), where], cwd=ROOT, capture_output=True, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    left = sorted(p.name for p in path.iterdir())
    assert "spill-1.f32" in left, left
    assert "MANIFEST" not in left, left
    if where == "write 4/5":
        assert {"codec-1.lti", "segment-1.lti", "segment-1-2.lti", "segment-1-3.lti"} <= set(left)
    assert writer.is_uncommitted(path)
    docs = _documents(17, 60)
    index = Index.create(path, _batches(docs, 7), segment_tokens=200)
    assert len(index) == 60
    assert sorted(p.name for p in path.iterdir()) == sorted(
        ["LOCK", "MANIFEST", "codec-1.lti", *dict(index.segments())]
    )
    assert os.path.getsize(path / "codec-1.lti") > 0
