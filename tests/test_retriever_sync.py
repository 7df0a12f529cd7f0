"""A build over an existing index brings it in line with the corpus (spec/retriever.md R-RET-7):
added, updated, unchanged, removed, empty and not-in-corpus documents, and another collection
refused unless appended."""

from __future__ import annotations

from pathlib import Path

import pytest

from lateint_ref import InputError
from lateint_ref.retrieval.retriever import Retriever

MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
DOCS = [(f"d{i}", f"document {i} about {w}") for i, w in enumerate(["cats", "dogs", "tea", "rust"])]


def build(path: Path, docs, **kw) -> Retriever:
    kw = {"commit_every": 2, "backend": "numpy", "seed": 0} | kw
    return Retriever.build(path, MODEL, docs, **kw)


def counts(**kw: int) -> dict[str, int]:
    base = dict.fromkeys(
        ("added", "updated", "unchanged", "removed", "empty", "not_in_corpus", "truncated"), 0
    )
    return base | kw


@pytest.mark.spec("R-RET-7")
def test_rebuild_adds_replaces_and_skips(tmp_path: Path) -> None:
    """R-RET-7: an edited text is re-encoded and replaces the old one; a new document is added;
    unchanged ones are not encoded again; a missing one is kept and counted without prune."""
    path = tmp_path / "i"
    assert build(path, DOCS).counts == counts(added=4)
    edited = [DOCS[0], ("d1", "bread rises with yeast"), DOCS[2], ("d9", "a new one")]
    encoded: list[list] = []
    r = build(path, edited, on_chunk=lambda ids, _: encoded.append(ids))
    assert r.counts == counts(added=1, updated=1, unchanged=2, not_in_corpus=1)
    assert encoded == [["d1", "d9"]]
    assert r.text("d1") == "bread rises with yeast"
    assert sorted(r.index.live_ids) == ["d0", "d1", "d2", "d3", "d9"]
    (hits,) = r.search("bread rises with yeast", k=1, exhaustive=True)
    assert hits.ids == ["d1"]
    fresh = build(tmp_path / "fresh", [(i, r.text(i)) for i in r.index.live_ids])
    (want,) = fresh.search("bread rises with yeast", k=5, exhaustive=True)
    (got,) = r.search("bread rises with yeast", k=5, exhaustive=True)
    assert sorted(got.ids) == sorted(want.ids)
    again = build(path, edited)
    assert again.counts == counts(unchanged=4, not_in_corpus=1)
    assert again.index.generation == r.index.generation  # nothing to commit


@pytest.mark.spec("R-RET-7")
def test_prune_removes_what_the_corpus_lacks(tmp_path: Path) -> None:
    """R-RET-7: with prune, the documents the corpus lacks are deleted in one commit."""
    path = tmp_path / "i"
    build(path, DOCS)
    r = build(path, DOCS[:2], prune=True)
    assert r.counts == counts(unchanged=2, removed=2)
    assert sorted(r.index.live_ids) == ["d0", "d1"]
    assert r.text("d3") is None


@pytest.mark.spec("R-RET-7")
def test_another_collection_is_refused_unless_appended(tmp_path: Path) -> None:
    """R-RET-7: a corpus none of whose ids the index holds raises before any encoding and
    changes nothing; append=True adds it."""
    path = tmp_path / "i"
    build(path, DOCS)
    before = {f.name: f.read_bytes() for f in path.iterdir()}
    other = [("x1", "another collection"), ("x2", "entirely")]
    seen: list = []
    with pytest.raises(InputError, match="R-RET-7: none of the corpus's 2 documents"):
        build(path, other, on_chunk=lambda ids, _: seen.append(ids))
    assert seen == []
    assert {f.name: f.read_bytes() for f in path.iterdir()} == before
    r = build(path, other, append=True)
    assert r.counts == counts(added=2, not_in_corpus=4)
    with pytest.raises(InputError, match="R-RET-7"):
        build(path, other, prune="yes")


@pytest.mark.spec("R-RET-1", "R-RET-7")
def test_empty_documents_are_skipped_unless_kept(tmp_path: Path) -> None:
    """R-RET-7: empty or whitespace-only texts are skipped and counted; keep_empty indexes them;
    a document whose text became empty is removed; a corpus of empty texts alone raises."""
    path = tmp_path / "i"
    r = build(path, [*DOCS, ("e1", ""), ("e2", "  \n\t")])
    assert r.counts == counts(added=4, empty=2)
    assert "e1" not in r.index.live_ids
    r = build(path, [(i, "" if i == "d2" else t) for i, t in DOCS])
    assert r.counts == counts(unchanged=3, empty=1, removed=1)
    assert "d2" not in r.index.live_ids
    kept = build(tmp_path / "k", [*DOCS, ("e1", "")], keep_empty=True)
    assert "e1" in kept.index.live_ids
    with pytest.raises(InputError, match=r"R-RET-1: .* no document that is not empty"):
        build(tmp_path / "none", [("e1", ""), ("e2", " ")])
