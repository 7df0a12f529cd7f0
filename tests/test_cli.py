"""The ``lateint`` command line (spec/cli.md), run as a subprocess (``python -m lateint_ref``)
on a tiny BERT model and a generated BEIR dataset: every command, its text and JSON output, and
every error path with its exit code and message."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import failed, lateint, ok

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
OTHER_MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-modernbert"
DOCS = [
    ("d1", "Cats", "Cats purr, sleep most of the day and chase mice at night."),
    ("d2", "Dogs", "Dogs bark at the mailman and fetch sticks in the park."),
    ("d3", "Rust", "Rust compiles to fast native code without a garbage collector."),
    ("d4", "Python", "Python is a snake, and also a programming language."),
    ("d5", "Tea", "Green tea is brewed at a lower temperature than black tea."),
    ("d6", "Bread", "Bread rises because yeast makes carbon dioxide in the dough."),
]
QUERIES = [("q1", "cats purr"), ("q2", "fast native code"), ("q3", "unjudged query")]
QRELS = [("q1", "d1", 1), ("q2", "d3", 2), ("q2", "d4", 1)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv."""
    root = tmp_path_factory.mktemp("beir")
    write_jsonl(root / "corpus.jsonl", [{"_id": i, "title": t, "text": x} for i, t, x in DOCS])
    write_jsonl(root / "queries.jsonl", [{"_id": i, "text": t} for i, t in QUERIES])
    (root / "qrels").mkdir()
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{r}" for q, d, r in QRELS]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def index(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("index") / "idx"
    out = ok(lateint("index", dataset, "--model", MODEL, "--index", path, "--batch-size", 4))
    assert "indexed 6 documents" in out
    return path


def info(index: Path) -> dict:
    return json.loads(ok(lateint("info", "--index", index, "--json")))


# ---------------------------------------------------------------- R-CLI-1, R-CLI-2


@pytest.mark.spec("R-CLI-1")
def test_help_lists_every_command() -> None:
    """R-CLI-1: help for the program and each command, and the version, exit 0."""
    out = ok(lateint("--help"))
    for command in ("index", "search", "eval", "encode", "info", "mine", "train"):
        assert command in out
        assert ok(lateint(command, "--help")).startswith(f"usage: lateint {command}")
    assert ok(lateint("--version")).startswith("lateint ")


@pytest.mark.spec("R-CLI-1")
def test_help_does_not_import_torch() -> None:
    """R-CLI-1: printing help loads no model, index, or torch."""
    code = (
        "import sys, contextlib, io\n"
        "from lateint_ref.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0 and main(['index', '--help']) == 0\n"
        "print(sorted(m for m in ('torch', 'tokenizers') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.spec("R-CLI-2")
def test_global_options_before_or_after_the_command(index: Path) -> None:
    """R-CLI-2: --json and --threads on either side; results do not depend on --threads."""
    before = lateint("--json", "--threads", 1, "search", "--index", index, "cats purr")
    after = lateint("search", "--index", index, "cats purr", "--threads", 2, "--json")
    assert json.loads(ok(before)) == json.loads(ok(after))


# ---------------------------------------------------------------- R-CLI-3, R-CLI-12

USAGE_ERRORS = {
    "no command": [],
    "unknown command": ["frobnicate"],
    "unknown option": ["info", "--index", "x", "--colour"],
    "missing --index": ["search", "query"],
    "missing --model": ["index", "corpus.jsonl", "--index", "x"],
    "k zero": ["search", "--index", "x", "q", "--k", "0"],
    "k not a number": ["search", "--index", "x", "q", "--k", "ten"],
    "threads zero": ["--threads", "0", "info", "--index", "x"],
    "batch size negative": ["index", "c", "--model", "m", "--index", "x", "--batch-size", "-1"],
    "commit every zero": ["index", "c", "--model", "m", "--index", "x", "--commit-every", "0"],
    "nbits 3": ["index", "c", "--model", "m", "--index", "x", "--nbits", "3"],
    "seed negative": ["index", "c", "--model", "m", "--index", "x", "--seed", "-1"],
    "backend unknown": ["encode", "--model", "m", "text", "--backend", "gpu"],
    "no texts to encode": ["encode", "--model", "m"],
}
SEARCH_USAGE_ERRORS = {
    "texts and --queries": ["q", "--queries", "queries.jsonl", "--output", "run.tsv"],
    "neither texts nor --queries": [],
    "--queries without --output": ["--queries", "queries.jsonl"],
    "--output without --queries": ["q", "--output", "run.tsv"],
}


@pytest.mark.spec("R-CLI-3", "R-CLI-12")
@pytest.mark.parametrize("argv", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path) -> None:
    """R-CLI-3, R-CLI-12: usage and one error line on stderr, exit 2, nothing written."""
    result = lateint(*argv)
    assert failed(result, 2).startswith("R-CLI-3: ")
    assert result.stderr.startswith("usage: lateint")
    assert result.stdout == ""


@pytest.mark.spec("R-CLI-8")
@pytest.mark.parametrize("argv", SEARCH_USAGE_ERRORS.values(), ids=SEARCH_USAGE_ERRORS.keys())
def test_search_usage_errors_exit_2(argv: list[str], tmp_path: Path) -> None:
    """R-CLI-8: the query sources exclude each other; checked before any file is read."""
    result = lateint("search", "--index", tmp_path / "absent", *argv)
    assert failed(result, 2).startswith("R-CLI-8: ")
    assert result.stderr.startswith("usage: lateint search")
    assert not (tmp_path / "run.tsv").exists()


# ---------------------------------------------------------------- R-CLI-4: failures exit 1


@pytest.mark.spec("R-CLI-4")
def test_missing_corpus_is_named(tmp_path: Path) -> None:
    """R-CLI-4: a missing path gives its name and exit 1."""
    absent = tmp_path / "nope.jsonl"
    message = failed(lateint("index", absent, "--model", MODEL, "--index", tmp_path / "i"), 1)
    assert message == f"R-CLI-4: {absent}: No such file or directory"


@pytest.mark.spec("R-CLI-4")
def test_missing_index_fails(tmp_path: Path) -> None:
    """R-CLI-4: searching or describing a missing index exits 1 and names it."""
    for argv in (["search", "q"], ["info"]):
        message = failed(lateint(*argv, "--index", tmp_path / "absent"), 1)
        assert "absent" in message


@pytest.mark.spec("R-CLI-4")
def test_missing_model_file_is_named(dataset: Path, tmp_path: Path) -> None:
    """R-CLI-4: a model folder without its weights names the missing file."""
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    (model / "model.safetensors").unlink()
    message = failed(lateint("index", dataset, "--model", model, "--index", tmp_path / "i"), 1)
    assert "model.safetensors" in message
    message = failed(lateint("encode", "--model", model, "some text"), 1)
    assert "model.safetensors" in message


@pytest.mark.spec("R-CLI-4", "R-CLI-6")
def test_malformed_jsonl_line_gives_file_and_line(tmp_path: Path) -> None:
    """R-CLI-4, R-CLI-6: a bad JSONL line is reported with its file and line number."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "fine"}\n{"_id": "b", "text": broken\n')
    message = failed(lateint("index", corpus, "--model", MODEL, "--index", tmp_path / "i"), 1)
    assert str(corpus) in message
    assert "2" in message.replace(str(corpus), "")


# ---------------------------------------------------------------- R-CLI-6, R-CLI-7: index


@pytest.mark.spec("R-CLI-6")
def test_index_from_text_folder_and_jsonl_file(tmp_path: Path) -> None:
    """R-CLI-6: a folder of .txt files (ids from file names) and a plain JSONL file."""
    texts = tmp_path / "texts"
    texts.mkdir()
    for doc_id, _, text in DOCS[:3]:
        (texts / f"{doc_id}.txt").write_text(text)
    (texts / "notes.md").write_text("ignored")
    ok(lateint("index", texts, "--model", MODEL, "--index", tmp_path / "a"))
    assert info(tmp_path / "a")["n_docs"] == 3
    hits = json.loads(ok(lateint("search", "--json", "--index", tmp_path / "a", "cats purr")))
    assert {h["id"] for h in hits[0]["hits"]} == {"d1", "d2", "d3"}

    corpus = write_jsonl(tmp_path / "docs.jsonl", [{"_id": i, "text": x} for i, _, x in DOCS])
    out = json.loads(
        ok(lateint("index", corpus, "--model", MODEL, "--index", tmp_path / "b", "--json"))
    )
    assert out["n_docs"] == 6
    assert out["dim"] == 32
    assert out["seconds"] >= 0


@pytest.mark.spec("R-CLI-6")
def test_index_rejects_a_folder_that_is_no_corpus(tmp_path: Path) -> None:
    """R-CLI-6: a folder without corpus.jsonl or .txt files."""
    (tmp_path / "empty").mkdir()
    message = failed(lateint("index", tmp_path / "empty", "--model", MODEL, "--index", "x"), 1)
    assert message.startswith("R-CLI-6: ")
    assert "empty" in message


@pytest.mark.spec("R-CLI-7")
def test_other_model_is_refused_and_nothing_is_lost(index: Path, dataset: Path) -> None:
    """R-CLI-7: an index built with another model says so and keeps its documents."""
    before = info(index)
    message = failed(lateint("index", dataset, "--model", OTHER_MODEL, "--index", index), 1)
    assert "model" in message
    assert "tiny-bert" in message
    assert info(index) == before


@pytest.mark.spec("R-CLI-7")
def test_failure_keeps_committed_batches_and_rerun_continues(tmp_path: Path) -> None:
    """R-CLI-7: the corpus is read whole before any work, so a bad line fails at once and
    writes nothing; over an index it leaves the committed documents usable; fixed, the same
    command continues to the end."""
    rows = [json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in DOCS]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join([*rows[:4], "{not json", *rows[4:]]) + "\n")
    argv = ["index", corpus, "--model", MODEL, "--index", tmp_path / "i"]
    failed(lateint(*argv, "--batch-size", 2, "--commit-every", 2), 1)
    assert not (tmp_path / "i").exists()
    corpus.write_text("\n".join(rows[:4]) + "\n")
    ok(lateint(*argv, "--batch-size", 2, "--commit-every", 2))
    corpus.write_text("\n".join([*rows[:5], "{not json", *rows[5:]]) + "\n")
    failed(lateint(*argv, "--batch-size", 2, "--commit-every", 2), 1)
    assert info(tmp_path / "i")["n_docs"] == 4
    ok(lateint("search", "--index", tmp_path / "i", "cats"))
    corpus.write_text("\n".join(rows) + "\n")
    ok(lateint(*argv, "--batch-size", 2, "--commit-every", 2))
    assert info(tmp_path / "i")["n_docs"] == 6


@pytest.mark.spec("R-CLI-5", "R-RET-1")
def test_progress_without_a_terminal_is_a_line_per_commit(tmp_path: Path) -> None:
    """R-CLI-5, R-RET-1: with stderr a pipe, `lateint index` writes one progress line per commit
    (documents committed out of those to encode, rate, time left), never a carriage return."""
    rows = [json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in DOCS]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(rows[:3]) + "\n")
    argv = ["index", corpus, "--model", MODEL, "--index", tmp_path / "i", "--commit-every", 2]
    ok(lateint(*argv))
    corpus.write_text("\n".join(rows) + "\n")
    result = lateint(*argv)
    ok(result)
    assert "\r" not in result.stderr
    assert [line.split(",")[0] for line in result.stderr.splitlines()] == [
        "indexing: 2/3 documents (66.7%)",
        "indexing: 3/3 documents (100.0%)",
    ]


@pytest.mark.spec("R-CLI-5")
def test_progress_only_on_a_terminal(dataset: Path, tmp_path: Path) -> None:
    """R-CLI-5: with stderr a terminal, indexing reports progress there; results stay on
    stdout (the other tests check that a pipe gets nothing)."""
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "lateint_ref",
                "index",
                str(dataset),
                "--model",
                str(MODEL),
                "--index",
                str(tmp_path / "i"),
                "--batch-size",
                "2",
                "--commit-every",
                "2",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=300,
            check=False,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert result.returncode == 0
    assert "indexed 6 documents" in result.stdout
    assert shown.strip()


# ---------------------------------------------------------------- R-CLI-8: search


@pytest.mark.spec("R-CLI-5", "R-CLI-8")
def test_search_prints_rank_id_score_snippet(index: Path) -> None:
    """R-CLI-8, R-CLI-5: a header and --k lines, best first, on stdout only."""
    lines = ok(lateint("search", "--index", index, "cats purr", "--k", 3)).splitlines()
    assert lines[0].split() == ["rank", "id", "score", "text"]
    rows = [line.split(None, 3) for line in lines[1:]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    scores = [float(r[2]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    texts = {i: f"{t} {x}" for i, t, x in DOCS}
    for _, doc_id, _, snippet in rows:
        assert snippet in texts[doc_id]


@pytest.mark.spec("R-CLI-5", "R-CLI-8")
def test_search_json_several_queries(index: Path) -> None:
    """R-CLI-8, R-CLI-5: one JSON document, one object per query, --k hits each."""
    out = ok(lateint("search", "--json", "--index", index, "cats purr", "bread", "--k", 2))
    assert out.count("\n") == 1
    results = json.loads(out)
    assert [r["query"] for r in results] == ["cats purr", "bread"]
    for r in results:
        assert [h["rank"] for h in r["hits"]] == [1, 2]
        assert r["hits"][0]["score"] >= r["hits"][1]["score"]
        assert set(r["hits"][0]) == {"rank", "id", "score", "text"}


@pytest.mark.spec("R-CLI-8")
def test_search_queries_file_writes_trec_run(index: Path, dataset: Path, tmp_path: Path) -> None:
    """R-CLI-8: a queries file (or BEIR folder) gives a TREC run, the same both ways."""
    run = tmp_path / "run.tsv"
    queries = dataset / "queries.jsonl"
    out = ok(lateint("search", "--index", index, "--queries", queries, "--output", run, "--k", 4))
    assert "3 queries" in out
    rows = [line.split() for line in run.read_text().splitlines()]
    assert len(rows) == 12
    assert {r[0] for r in rows} == {"q1", "q2", "q3"}
    for r in rows:
        assert r[1] == "Q0"
        assert r[3] in {"1", "2", "3", "4"}
        assert r[5] == "lateint"
    again = tmp_path / "again.tsv"
    ok(lateint("search", "--index", index, "--queries", dataset, "--output", again, "--k", 4))
    assert again.read_text() == run.read_text()


@pytest.mark.spec("R-CLI-4")
def test_search_missing_queries_file(index: Path, tmp_path: Path) -> None:
    """R-CLI-4: a missing queries file is named; no run is written."""
    absent = tmp_path / "q.jsonl"
    result = lateint("search", "--index", index, "--queries", absent, "--output", tmp_path / "r")
    assert str(absent) in failed(result, 1)
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- R-CLI-9: eval


@pytest.mark.spec("R-CLI-9")
def test_eval_prints_the_four_metrics(index: Path, dataset: Path, tmp_path: Path) -> None:
    """R-CLI-9: text and JSON agree; only judged queries are searched; --output writes the run."""
    lines = ok(lateint("eval", "--index", index, "--dataset", dataset)).splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["nDCG@10", "Recall@100", "MRR@10", "MAP@100"]
    assert "2 queries" in lines[4]
    run = tmp_path / "run.tsv"
    result = lateint("eval", "--json", "--index", index, "--dataset", dataset, "--output", run)
    scores = json.loads(ok(result))
    assert scores["n_queries"] == 2
    assert scores["k"] == 100
    assert scores["recall@100"] == 1.0  # 6 documents, all retrieved
    for line, metric in zip(lines[:4], ("ndcg@10", "recall@100", "mrr@10", "map@100"), strict=True):
        assert float(line.split()[1]) == pytest.approx(scores[metric], abs=5e-5)
    assert {line.split()[0] for line in run.read_text().splitlines()} == {"q1", "q2"}


@pytest.mark.spec("R-CLI-4", "R-CLI-9")
def test_eval_errors(index: Path, dataset: Path, tmp_path: Path) -> None:
    """R-CLI-9, R-CLI-4: a missing split file is named; no judged query is an error."""
    message = failed(lateint("eval", "--index", index, "--dataset", dataset, "--split", "dev"), 1)
    assert "dev.tsv" in message
    other = tmp_path / "other"
    shutil.copytree(dataset, other)
    (other / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    message = failed(lateint("eval", "--index", index, "--dataset", other), 1)
    assert message.startswith("check --split and the dataset's qrels (R-CLI-9: ")  # R-CLI-4
    (other / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td1\t1\n")
    assert "q9" in failed(lateint("eval", "--index", index, "--dataset", other), 1)


@pytest.mark.spec("R-CLI-10")
def test_encode_outputs(tmp_path: Path) -> None:
    """R-CLI-10: text lines, JSON vectors and an npz of packed vectors without pickles, the same
    numbers each way; queries are expanded to query_length."""
    texts = ["cats purr", "a longer text about dogs"]
    lines = ok(lateint("encode", "--model", MODEL, *texts)).splitlines()
    assert len(lines) == 2
    assert " x 32 " in lines[0]
    as_json = json.loads(ok(lateint("encode", "--json", "--model", MODEL, *texts)))
    assert [r["text"] for r in as_json] == texts
    npz = tmp_path / "e.npz"
    out = ok(lateint("encode", "--model", MODEL, *texts, "--output", npz, "--backend", "numpy"))
    assert "encoded 2 texts" in out
    with np.load(npz, allow_pickle=False) as f:
        vectors, offsets, stored = f["vectors"], f["offsets"], f["texts"]
    assert vectors.dtype == np.float32
    assert offsets.dtype == np.int64
    assert stored.tolist() == texts
    assert offsets.tolist() == [0, len(as_json[0]["embeddings"]), len(vectors)]
    np.testing.assert_allclose(vectors[: offsets[1]], as_json[0]["embeddings"], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    queries = json.loads(
        ok(lateint("encode", "--json", "--query", "--model", MODEL, "-", stdin="cats\nmice\n"))
    )
    assert [r["text"] for r in queries] == ["cats", "mice"]
    assert len({len(r["embeddings"]) for r in queries}) == 1  # query expansion: fixed length


# ---------------------------------------------------------------- R-CLI-11: info


@pytest.mark.spec("R-CLI-11")
def test_info_text_and_json(index: Path) -> None:
    """R-CLI-11: sizes, model and dims, as lines and as JSON."""
    data = info(index)
    assert data["n_docs"] == 6
    assert data["dim"] == 32
    assert data["nbits"] == 2
    assert data["bytes_on_disk"] > 0
    assert "tiny-bert" in json.dumps(data["model"])
    lines = ok(lateint("info", "--index", index)).splitlines()
    assert lines[0] == f"index: {index}"
    keys = {line.split(":", 1)[0] for line in lines}
    assert {"n_docs", "n_tokens", "dim", "nbits", "bytes_on_disk", "model"} <= keys
