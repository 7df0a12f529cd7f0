"""A retriever's index changed after its build: deletions and compaction keep the texts store in
step (spec/retriever.md R-RET-6), and a build killed during its first commit reruns (R-INDEX-13)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CRASH_TRIALS
from test_retriever_texts import build, corpus, reopen

from lateint_ref import Index, InputError
from lateint_ref.retrieval import changes


@pytest.mark.spec("R-INDEX-10", "R-RET-6")
def test_delete_removes_documents_and_texts(tmp_path: Path) -> None:
    """R-RET-6, R-INDEX-10: a deletion through the retriever is one commit; searches and texts
    no longer hold the documents; a reopened retriever checks its texts and agrees; unknown ids
    raise InputError and change nothing."""
    r = build(tmp_path / "i", corpus(25))
    r.delete(["d3", "d17"])
    assert r.text("d3") is None
    assert r.text("d4") == dict(corpus(25))["d4"]
    again = reopen(tmp_path / "i")
    assert again.text("d17") is None
    assert again.index.n_live == 23
    for hits in again.search(["heart disease", "wind tunnel"], k=25):
        assert not {"d3", "d17"} & set(hits.ids)
    with pytest.raises(InputError, match="R-INDEX-10"):
        again.delete(["d3"])
    assert reopen(tmp_path / "i").index.generation == again.index.generation


@pytest.mark.spec("R-INDEX-12", "R-RET-6")
def test_compact_rewrites_the_texts_store(tmp_path: Path) -> None:
    """R-RET-6, R-INDEX-12: compaction writes the live texts as the new segment's file, removes
    the files of the segments compacted away, and keeps search results; the build then resumes
    after it."""
    path = tmp_path / "i"
    r = build(path, corpus(25))
    r.delete(["d0", "d11", "d24"])
    queries = ["heart disease", "protein cell"]
    before = r.search(queries, k=22, exhaustive=True)
    r.compact()
    g = r.index.generation
    assert sorted(p.name for p in path.glob("texts-*.jsonl")) == [f"texts-{g}.jsonl"]
    again = reopen(path)
    assert again.text("d0") is None
    assert again.text("d12") == dict(corpus(25))["d12"]
    for a, b in zip(again.search(queries, k=22, exhaustive=True), before, strict=True):
        assert a.ids == b.ids
        np.testing.assert_array_equal(a.scores, b.scores)
    resumed = build(path, corpus(30))
    assert resumed.index.n_live == 30  # the ids compacted away are added again
    assert reopen(path).text("d29") == dict(corpus(30))["d29"]


@pytest.mark.spec("R-INDEX-19", "R-RET-6")
def test_compact_with_refit_reencodes_the_stored_texts(tmp_path: Path) -> None:
    """R-RET-6, R-INDEX-19: Retriever.compact(refit=True) encodes the live documents' stored
    texts with its encoder and refits the codec in the compaction's commit: the codec and segment
    are those of a fresh build of the live texts; texts and search follow; an index without
    texts cannot be refitted by the retriever's functions."""
    path = tmp_path / "i"
    r = build(path, corpus(25))
    r.delete(["d0", "d11", "d24"])
    text = dict(corpus(25))
    live = [(i, text[i]) for i in r.index.ids if i not in {"d0", "d11", "d24"}]  # index order
    r.compact(refit=True)
    g = r.index.generation
    assert [n for n, _ in r.index.files()] == ["MANIFEST", f"codec-{g}.lti", f"segment-{g}.lti"]
    assert sorted(p.name for p in path.glob("texts-*.jsonl")) == [f"texts-{g}.jsonl"]
    fresh = build(tmp_path / "fresh", live, commit_every=100, sample_documents=None)
    assert (path / f"codec-{g}.lti").read_bytes() == (
        tmp_path / "fresh" / "codec-1.lti"
    ).read_bytes()
    assert (path / f"segment-{g}.lti").read_bytes() == (
        tmp_path / "fresh" / "segment-1.lti"
    ).read_bytes()
    again = reopen(path)
    assert again.text("d12") == dict(corpus(25))["d12"]
    for a, b in zip(again.search(["heart"], k=5), fresh.search(["heart"], k=5), strict=True):
        assert a.ids == b.ids
    docs = list(np.random.default_rng(0).standard_normal((12, 3, 8)).astype(np.float32))
    Index.create(tmp_path / "p", docs)
    with pytest.raises(InputError, match="R-RET-6"):
        changes.compact(tmp_path / "p", encode=lambda texts: [])


@pytest.mark.spec("R-RET-6")
def test_plain_index_changes_without_texts(tmp_path: Path) -> None:
    """R-RET-6: the same functions change an index without a texts store."""
    docs = list(np.random.default_rng(0).standard_normal((12, 3, 8)).astype(np.float32))
    Index.create(tmp_path / "p", docs)
    assert changes.delete(tmp_path / "p", [1, 2]).n_live == 10
    assert changes.compact(tmp_path / "p").ids == [0, *range(3, 12)]


@pytest.mark.spec("R-INDEX-13", "R-RET-3")
def test_build_reruns_into_a_folder_left_by_a_first_commit(tmp_path: Path) -> None:
    """R-INDEX-13, R-RET-3: a folder holding only a first commit's leftovers (LOCK, a temporary)
    is no index: the build creates into it instead of failing with R-RET-3."""
    path = tmp_path / "i"
    path.mkdir()
    (path / "LOCK").write_bytes(b"")
    (path / "segment-1.lti.tmp").write_bytes(b"partial")
    r = build(path, corpus(12))
    assert r.index.n_live == 12
    assert not (path / "segment-1.lti.tmp").exists()
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "other.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="R-RET-3"):
        build(tmp_path / "j", corpus(12))


_BUILD = """
import sys
sys.path.insert(0, sys.argv[2])
from test_retriever_texts import corpus, MODEL
from lateint_ref.retrieval.retriever import Retriever
Retriever.build(sys.argv[1], MODEL, corpus(400), commit_every=1000, backend="numpy",
                progress=False, on_chunk=lambda ids, v: print("encoded", flush=True))
print("done", flush=True)
"""


@pytest.mark.spec("R-INDEX-13", "R-RET-3")
@pytest.mark.parametrize("trial", range(CRASH_TRIALS))
def test_build_killed_in_its_first_commit_reruns(tmp_path: Path, trial: int) -> None:
    """R-INDEX-13, R-RET-3: a build killed by SIGKILL at a random point of its first commit
    (after the chunk is encoded, while Index.create writes) is rerun with the same corpus: it
    creates the index (or finds it committed) and every text checks."""
    path = tmp_path / "i"
    tests = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": str(tests.parent), "RAYON_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", _BUILD, str(path), str(tests)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "encoded"
    time.sleep(float(np.random.default_rng(trial).uniform(0.0, 0.1)))  # create takes ~0.1 s
    child.kill()
    child.wait()
    child.stdout.close()
    r = build(path, corpus(400), commit_every=1000)
    assert r.index.n_live == 400
    assert reopen(path).text("d7") == dict(corpus(400))["d7"]


@pytest.mark.spec("R-INDEX-5", "R-INDEX-11", "R-RET-6")
def test_add_and_upsert_with_texts(tmp_path: Path) -> None:
    """R-RET-6, R-INDEX-11: Retriever.add commits new documents with their texts; an id already
    live is refused (nothing committed) unless upsert=True, which replaces its text and vectors
    in one commit."""
    path = tmp_path / "i"
    r = build(path, corpus(12))
    generation = r.index.generation
    with pytest.raises(InputError, match="R-INDEX-5"):
        r.add([("d3", "wind tunnel"), ("n1", "cell")])
    assert reopen(path).index.generation == generation
    r.add([("d3", "wind tunnel"), ("n1", "cell")], upsert=True)
    again = reopen(path)
    assert again.index.generation == generation + 1
    assert (again.text("d3"), again.text("n1")) == ("wind tunnel", "cell")
    assert again.index.n_live == 13
    assert again.search(["wind tunnel"], k=13, exhaustive=True)[0].ids.count("d3") == 1
    again.compact()
    assert reopen(path).text("d3") == "wind tunnel"
