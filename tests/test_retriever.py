"""The retriever: streamed, committed, resumable indexing and search (spec/retriever.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from oracle import index as index_oracle

import lateint_ref as li
from lateint_ref import InputError
from lateint_ref.retrieval import sample
from lateint_ref.retrieval.retriever import Retriever

MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
WORDS = [
    *("heart", "disease", "genome", "sequence", "wind", "tunnel"),
    *("aircraft", "model", "protein", "cell", "cancer", "drug"),
]


def corpus(n: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(n)
    return [(f"d{i}", " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12))))) for i in range(n)]


def build(path: Path, docs, **kw) -> Retriever:
    kw = {"commit_every": 10, "backend": "numpy", "seed": 0} | kw
    return Retriever.build(path, MODEL, docs, **kw)


def files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.name != "LOCK"}


@pytest.mark.spec("R-RET-1", "R-RET-2", "R-RET-4", "R-RET-8")
def test_chunks_become_segments_with_their_texts(tmp_path) -> None:
    """R-RET-1, R-RET-2, R-RET-4, R-RET-8: a codec sample of 10 of 25 documents, then chunks of
    10, make three commits: the sample's documents first, in corpus order, then the others;
    every id and text is kept; search ranks by exact MaxSim over the decoded vectors when
    exhaustive."""
    docs = corpus(25)
    r = build(tmp_path / "i", docs, sample_documents=10)
    assert len(r.index) == 25
    assert r.index.generation == 3
    first = sample.positions(25, 10, 0)
    order = first + [p for p in range(25) if p not in first]
    assert r.index.ids == [docs[p][0] for p in order]
    assert all(r.text(i) == t for i, t in docs)
    assert r.text("missing") is None
    assert r.index.metadata["loader"] == "pretrained"
    again = Retriever.open(tmp_path / "i", backend="numpy")
    (hits,) = again.search("heart disease protein", k=5, exhaustive=True)
    q = again.encoder.encode(["heart disease protein"], is_query=True)
    scores = li.maxsim(q, again.index.decode(range(25)))[0]
    want = sorted(range(25), key=lambda p: (-float(scores[p]), p))[:5]
    assert hits.ids == [again.index.ids[p] for p in want]
    np.testing.assert_array_equal(hits.scores, scores[want])
    assert again.search([]) == []


@pytest.mark.spec("R-RET-3")
def test_interrupted_build_resumes_to_the_same_files(tmp_path) -> None:
    """R-RET-3: a run interrupted in its third commit (the codec sample, then chunks) keeps its
    two committed ones; the rerun skips them and ends with the files of an uninterrupted run."""
    docs = corpus(30)
    seen: list = []

    def stop_at_the_third(ids, vectors) -> None:
        seen.append(ids)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "a", docs, sample_documents=10, on_chunk=stop_at_the_third)
    assert len(li.Index.open(tmp_path / "a")) == 20
    build(tmp_path / "a", docs, sample_documents=10)
    build(tmp_path / "b", docs, sample_documents=10)
    assert files(tmp_path / "a") == files(tmp_path / "b")


@pytest.mark.spec("R-INDEX-17", "R-RET-8")
def test_interrupted_codec_sample_leaves_nothing(tmp_path) -> None:
    """R-RET-8, R-INDEX-17: an interruption while the codec sample is encoded (its first group
    here) leaves no index and no staged texts; the rerun builds the same files."""
    docs = corpus(30)

    def stop(ids, vectors) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "a", docs, on_chunk=stop)
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []
    build(tmp_path / "a", docs)
    build(tmp_path / "b", docs)
    assert files(tmp_path / "a") == files(tmp_path / "b")


@pytest.mark.spec("R-RET-3")
def test_other_model_settings_are_refused(tmp_path) -> None:
    """R-RET-3: resuming with other settings (here nbits) raises and changes nothing."""
    path = tmp_path / "i"
    build(path, corpus(5))
    before = files(path)
    with pytest.raises(InputError, match="R-RET-3"):
        build(path, corpus(5), nbits=4)
    assert files(path) == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="R-RET-3"):
        build(tmp_path / "other", corpus(5))


@pytest.mark.spec("R-RET-1")
@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ([("d0", 5)], "R-RET-1"),
        (["just text"], "R-RET-1"),
        ([], "R-RET-1"),
    ],
)
def test_bad_corpus_items(tmp_path, bad, rule) -> None:
    """R-RET-1: items that are not (id, text) pairs, or no item at all, raise InputError, and
    leave nothing behind (the folder the writer lock created is removed)."""
    with pytest.raises(InputError, match=rule):
        build(tmp_path / "i", bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.spec("R-RET-2")
def test_missing_model_and_unrecorded_index(tmp_path) -> None:
    """R-RET-2: a missing model folder, or an index built without a retriever record, raise."""
    with pytest.raises(InputError, match="R-RET-2"):
        Retriever.build(tmp_path / "i", tmp_path / "nope", corpus(3))
    li.Index.create(tmp_path / "plain", [np.ones((2, 4), np.float32)])
    with pytest.raises(InputError, match="R-RET-2"):
        Retriever.open(tmp_path / "plain")


@pytest.mark.spec("R-RET-5")
def test_rerank_orders_by_exact_maxsim(tmp_path) -> None:
    """R-RET-5: candidates ordered by exact MaxSim with the query, ties by input order."""
    r = build(tmp_path / "i", corpus(5))
    cands = [("x", "wind tunnel aircraft"), ("y", "heart disease"), ("z", "heart disease")]
    hits = r.rerank("heart disease", cands)
    q = r.encoder.encode(["heart disease"], is_query=True)
    d = r.encoder.encode([t for _, t in cands], is_query=False)
    scores = li.maxsim(q, d)[0]
    want = sorted(range(3), key=lambda j: (-float(scores[j]), j))
    assert hits.ids == [cands[j][0] for j in want]
    assert hits.ids.index("y") < hits.ids.index("z")
    assert r.rerank("heart disease", cands, k=1).ids == hits.ids[:1]
    assert r.rerank("q", []).ids == []


@pytest.mark.spec("R-RET-1")
def test_on_chunk_sees_every_chunk_before_it_is_indexed(tmp_path) -> None:
    """R-RET-1: on_chunk receives the ids and document embeddings of the codec sample, then of
    each chunk, in the index's order."""
    seen: list = []
    docs = corpus(25)
    r = build(
        tmp_path / "i", docs, on_chunk=lambda ids, v: seen.append((ids, v)), sample_documents=5
    )
    first = sample.positions(25, 5, 0)
    rest = [f"d{p}" for p in range(25) if p not in first]
    assert [ids for ids, _ in seen] == [[f"d{p}" for p in first], rest[:10], rest[10:]]
    assert all(len(v) == len(ids) for ids, v in seen)
    assert [i for ids, _ in seen for i in ids] == r.index.ids
    text = dict(docs)
    want = r.encoder.encode([text[i] for i in r.index.ids], is_query=False)
    got = [x for _, v in seen for x in v]
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(want), atol=1e-6)


def _stderr_as_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the captured stderr claim to be a terminal, where progress=None would show."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


@pytest.mark.spec("R-RET-1")
def test_progress_false_prints_nothing(tmp_path, capsys, monkeypatch) -> None:
    """R-RET-1: progress=False silences the build, its encoding and the index writer, even on a
    terminal."""
    _stderr_as_a_terminal(monkeypatch)
    build(tmp_path / "i", corpus(25), batch_size=4, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.spec("R-RET-1")
def test_progress_on_a_terminal_refreshes_documents_rate_and_time_left(
    tmp_path, capsys, monkeypatch
) -> None:
    """R-RET-1: on a terminal, one refreshed line: the documents encoded out of those to encode
    (counted across commits, not restarted per chunk), the rate and the time left, and the stage."""
    _stderr_as_a_terminal(monkeypatch)
    build(tmp_path / "a", iter(corpus(25)), batch_size=4, progress=True, sample_documents=10)
    err = capsys.readouterr().err
    assert "\n" not in err.rstrip("\n")  # one line, refreshed with \r
    shown = [s.strip() for s in err.split("\r") if s.strip()]
    assert all(s.startswith("indexing: ") and "/25 documents" in s for s in shown), shown
    done = [int(s.split("indexing: ")[1].split("/")[0]) for s in shown]
    assert done == sorted(done)
    assert done[-1] == 25
    assert any(s.endswith(": encoding the codec sample") for s in shown)
    assert shown[-1].startswith("indexing: 25/25 documents (100.0%), ")
    assert "/s, 0 s left: committed" in shown[-1]
    assert "encoding documents: batch" not in err  # the encoder's own bar is not shown


@pytest.mark.spec("R-RET-1")
def test_progress_elsewhere_is_a_line_per_commit(tmp_path, capsys) -> None:
    """R-RET-1: when stderr is no terminal, progress=True writes one line per commit (no \r),
    with the documents committed out of the total, the rate, the time left and the elapsed."""
    build(tmp_path / "b", corpus(25), batch_size=4, progress=True, sample_documents=10)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "indexing: 10/25 documents (40.0%)",
        "indexing: 20/25 documents (80.0%)",
        "indexing: 25/25 documents (100.0%)",
    ]
    assert all("/s, " in line and " left; committed after " in line for line in lines), lines


@pytest.mark.spec("R-RET-1", "R-RET-7")
def test_a_resumed_build_counts_only_what_it_encodes(tmp_path, capsys) -> None:
    """R-RET-1, R-RET-7: the total is the documents this run encodes, not the corpus."""
    docs = corpus(25)
    build(tmp_path / "i", docs[:20], progress=False)
    build(tmp_path / "i", docs, progress=True)
    assert capsys.readouterr().err.splitlines()[0].startswith("indexing: 5/5 documents (100.0%)")


# ---------------------------------------------------------------- R-RET-8: the codec sample


@pytest.mark.spec("R-KMEANS-1", "R-KMEANS-2", "R-RET-8")
def test_sample_rule_is_the_seeded_shuffle_of_the_index_sample() -> None:
    """R-RET-8: the sample's positions are R-KMEANS-2's seeded shuffle, sorted; the default size
    is PLAID's; the centroids are R-KMEANS-1's for the estimated token count."""
    for n, size, seed in [(1, 1, 0), (30, 10, 0), (1000, 77, 3), (5, 5, 2**64 - 1)]:
        assert sample.positions(n, size, seed) == sorted(
            index_oracle.sample_positions(n, size, seed)
        )
    assert [sample.default_size(n) for n in (1, 100, 30_720, 30_721, 10**6)] == [
        1,
        100,
        30_720,
        30_721,
        175_272,
    ]
    for tokens in (1, 7, 4096, 10**5):  # the whole corpus sampled: R-KMEANS-1 itself
        assert sample.centroids(50, 50, tokens) == index_oracle.default_sizes(tokens)[0]
    # 10 of 1,000 documents hold 2,000 tokens: K for 200,000 tokens, capped by the sample's
    assert sample.centroids(1000, 10, 2000) == 2000
    assert sample.centroids(10**4, 1000, 10**5) == index_oracle.default_sizes(10**6)[0]
    with pytest.raises(InputError, match="R-RET-8"):
        sample.checked_size(0, 5)
    assert sample.checked_size(None, 5) == 5
    assert sample.checked_size(9, 5) == 5


@pytest.mark.spec("R-RET-8")
def test_codec_does_not_depend_on_commit_every(tmp_path) -> None:
    """R-RET-8: the codec is fitted on the sample, encoded in groups of its own, so the codec file
    is the same whatever commit_every is, and so are the hits; its K is the one for the
    collection the sample stands for."""
    docs = corpus(60)
    built = {
        c: build(tmp_path / f"c{c}", docs, commit_every=c, sample_documents=20) for c in (3, 7, 100)
    }
    codecs = {c: (tmp_path / f"c{c}" / "codec-1.lti").read_bytes() for c in built}
    assert codecs[3] == codecs[7] == codecs[100]
    assert [r.index.generation for r in built.values()] == [1 + 14, 1 + 6, 2]
    first = sample.positions(60, 20, 0)
    enc = built[3].encoder
    tokens = sum(len(v) for v in enc.encode([docs[p][1] for p in first], is_query=False))
    assert built[3].index.n_centroids == sample.centroids(60, 20, tokens)
    for q in ("heart disease", "wind tunnel aircraft", "protein cell drug"):
        hits = [r.search(q, k=5, exhaustive=True)[0] for r in built.values()]
        assert hits[0].ids == hits[1].ids == hits[2].ids
        np.testing.assert_allclose(hits[0].scores, hits[2].scores, atol=1e-5)


@pytest.mark.spec("R-RET-8")
def test_a_fully_sampled_corpus_gets_the_codec_of_one_create(tmp_path) -> None:
    """R-RET-8: a corpus small enough to be sampled whole is one commit, whose codec is that of
    Index.create over all its embeddings at once."""
    docs = corpus(40)
    r = build(tmp_path / "r", docs, commit_every=7)
    assert r.index.generation == 1
    assert r.index.ids == [i for i, _ in docs]
    vectors = r.encoder.encode([t for _, t in docs], is_query=False, batch_size=32)
    li.Index.create(tmp_path / "plain", vectors, seed=0, metadata=r.index.metadata)
    assert (tmp_path / "r" / "codec-1.lti").read_bytes() == (
        tmp_path / "plain" / "codec-1.lti"
    ).read_bytes()


@pytest.mark.spec("R-RET-7")
def test_truncated_documents_are_counted(tmp_path) -> None:
    """R-RET-7: counts["truncated"]: the encoded documents longer than the document length."""
    r = build(tmp_path / "i", corpus(5), progress=False)
    budget = r.encoder.settings.document_length
    long_text = " ".join(["heart"] * (3 * budget))
    docs = [*corpus(5), ("long1", long_text), ("long2", long_text + " cell"), ("short", "cell")]
    again = build(tmp_path / "i", docs)
    assert again.counts is not None
    assert again.counts["truncated"] == 2
    assert again.counts["added"] == 3
    assert again.counts["unchanged"] == 5
    assert len(again.index.decode([again.index.ids.index("long1")])[0]) <= budget
