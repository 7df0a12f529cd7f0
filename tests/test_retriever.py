"""The retriever: streamed, committed, resumable indexing and search (spec/retriever.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import lateint_ref as li
from lateint_ref import InputError
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


def test_chunks_become_segments_with_their_texts(tmp_path) -> None:
    """R-RET-1, R-RET-2, R-RET-4: 25 documents in chunks of 10 make three commits; every id and
    text is kept; search ranks by exact MaxSim over the decoded vectors when exhaustive."""
    docs = corpus(25)
    r = build(tmp_path / "i", docs)
    assert len(r.index) == 25
    assert r.index.generation == 3
    assert r.index.ids == [i for i, _ in docs]
    assert all(r.text(i) == t for i, t in docs)
    assert r.text("missing") is None
    assert r.index.metadata["loader"] == "pretrained"
    again = Retriever.open(tmp_path / "i", backend="numpy")
    (hits,) = again.search("heart disease protein", k=5, exhaustive=True)
    q = again.encoder.encode(["heart disease protein"], is_query=True)
    scores = li.maxsim(q, again.index.decode(range(25)))[0]
    want = sorted(range(25), key=lambda p: (-float(scores[p]), p))[:5]
    assert hits.ids == [docs[p][0] for p in want]
    np.testing.assert_array_equal(hits.scores, scores[want])
    assert again.search([]) == []


def test_interrupted_build_resumes_to_the_same_files(tmp_path) -> None:
    """R-RET-3: a run interrupted in its third chunk keeps its two committed chunks; the rerun
    skips them and ends with the files of an uninterrupted run."""
    docs = corpus(30)

    def failing():
        for n, item in enumerate(docs):
            if n == 25:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "a", failing())
    assert len(li.Index.open(tmp_path / "a")) == 20
    build(tmp_path / "a", docs)
    build(tmp_path / "b", docs)
    assert files(tmp_path / "a") == files(tmp_path / "b")


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


def test_missing_model_and_unrecorded_index(tmp_path) -> None:
    """R-RET-2: a missing model folder, or an index built without a retriever record, raise."""
    with pytest.raises(InputError, match="R-RET-2"):
        Retriever.build(tmp_path / "i", tmp_path / "nope", corpus(3))
    li.Index.create(tmp_path / "plain", [np.ones((2, 4), np.float32)])
    with pytest.raises(InputError, match="R-RET-2"):
        Retriever.open(tmp_path / "plain")


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


def test_on_chunk_sees_every_chunk_before_it_is_indexed(tmp_path) -> None:
    """R-RET-1: on_chunk receives each chunk's ids and document embeddings, in order."""
    seen: list = []
    r = build(tmp_path / "i", corpus(12), on_chunk=lambda ids, v: seen.append((ids, v)))
    assert [ids for ids, _ in seen] == [[f"d{i}" for i in range(10)], ["d10", "d11"]]
    assert all(len(v) == len(ids) for ids, v in seen)
    want = r.encoder.encode([t for _, t in corpus(12)], is_query=False)
    got = [x for _, v in seen for x in v]
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def _stderr_as_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the captured stderr claim to be a terminal, where progress=None would show."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def test_progress_false_prints_nothing(tmp_path, capsys, monkeypatch) -> None:
    """R-RET-1: progress=False silences the build, its encoding and the index writer, even on a
    terminal."""
    _stderr_as_a_terminal(monkeypatch)
    build(tmp_path / "i", corpus(25), batch_size=4, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_true_reports_documents_committed(tmp_path, capsys) -> None:
    """R-RET-1: progress=True shows the encoding, the index writer and the documents committed:
    against len(corpus) when the corpus has one, without a total (no percentage) otherwise."""
    docs = corpus(25)
    build(tmp_path / "a", iter(docs), batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "encoding documents" in err
    assert "building index" in err
    assert "adding to index" in err
    committed = [s.strip() for s in err.replace("\r", "\n").splitlines() if "committed" in s]
    assert committed[-1].startswith("indexing: documents committed 25 (")
    assert all("%" not in line and "/" not in line for line in committed), committed
    build(tmp_path / "b", docs, batch_size=4, progress=True)
    err = capsys.readouterr().err
    committed = [s.strip() for s in err.replace("\r", "\n").splitlines() if "committed" in s]
    assert [line.split(" (")[0] for line in committed] == [
        "indexing: documents committed 10/25  40.0%",
        "indexing: documents committed 20/25  80.0%",
        "indexing: documents committed 25/25 100.0%",
    ]
