"""Training data on disk (spec/training_data.md): triplets, distillation and BEIR train pairs read
whole and checked line by line, every bad line named by file and line, and the seeded batches."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from lateint_ref import InputError
from lateint_ref.training.data import (
    Distilled,
    Pair,
    Triplet,
    batches,
    read_beir_pairs,
    read_distillation,
    read_triplets,
)

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"


def _jsonl(path: Path, lines: list[object]) -> Path:
    """``lines`` written one per line: a ``str`` as is, anything else as JSON."""
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def _beir(folder: Path, qrels: str, queries: list[object], corpus: list[object]) -> Path:
    """A tiny BEIR folder with ``qrels/train.tsv``."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "qrels" / "train.tsv").write_text(qrels, encoding="utf-8")
    _jsonl(folder / "queries.jsonl", queries)
    _jsonl(folder / "corpus.jsonl", corpus)
    return folder


def _fails(call: object, path: Path, line: int | None, rule: str, what: str) -> None:
    """``call()`` raises ``InputError`` citing ``rule``, naming ``path`` (and ``line``) and
    saying ``what``."""
    assert callable(call)
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    where = f"{path} line {line}:" if line is not None else f"{path}"
    assert message.startswith(f"{rule}: {where}"), message
    assert what in message, message


# --- triplets ---------------------------------------------------------------------------------


@pytest.mark.spec("R-TDATA-3", "R-TDATA-8")
def test_triplets_happy_path(tmp_path: Path) -> None:
    # R-TDATA-3 R-TDATA-8: examples in file order, positive first, texts as written, blank
    # lines and other fields ignored; `negative` and a one-element `negatives` are the same shape.
    path = _jsonl(
        tmp_path / "t.jsonl",
        [
            {"query": " q1 ", "positive": "p1", "negative": "n1", "extra": 3},
            "",
            "   ",
            {"query": "q2", "positive": "p2 ", "negatives": ["n2"]},
            {"query": "q1", "positive": "p3", "negative": "n3"},
        ],
    )
    s = read_triplets(path)
    assert len(s) == 3
    assert s.num_negatives == 1
    assert s.path == path
    assert list(s) == [
        Triplet(" q1 ", ["p1", "n1"]),
        Triplet("q2", ["p2 ", "n2"]),
        Triplet("q1", ["p3", "n3"]),
    ]
    assert s[1] == ("q2", ["p2 ", "n2"])
    assert s[-1] == s.examples[2]
    query, documents = s[0]
    assert (query, documents) == (" q1 ", ["p1", "n1"])
    assert read_triplets(str(path)).examples == s.examples


@pytest.mark.spec("R-TDATA-3", "R-TDATA-4")
def test_triplets_several_negatives(tmp_path: Path) -> None:
    # R-TDATA-3 R-TDATA-4
    rows = [
        {"query": f"q{i}", "positive": f"p{i}", "negatives": [f"a{i}", f"b{i}", f"c{i}"]}
        for i in range(5)
    ]
    s = read_triplets(_jsonl(tmp_path / "t.jsonl", rows))
    assert s.num_negatives == 3
    assert [t.documents for t in s] == [[f"p{i}", f"a{i}", f"b{i}", f"c{i}"] for i in range(5)]


GOOD = {"query": "q", "positive": "p", "negatives": ["n1", "n2"]}

BAD_TRIPLETS = [
    (
        "missing query",
        {"positive": "p", "negatives": ["a", "b"]},
        "R-TDATA-3",
        "missing field 'query'",
    ),
    (
        "missing positive",
        {"query": "q", "negatives": ["a", "b"]},
        "R-TDATA-3",
        "missing field 'positive'",
    ),
    (
        "missing negatives",
        {"query": "q", "positive": "p"},
        "R-TDATA-3",
        "'negative' or 'negatives'",
    ),
    ("query not str", {**GOOD, "query": 3}, "R-TDATA-3", "field 'query' must be a string, got int"),
    ("query null", {**GOOD, "query": None}, "R-TDATA-3", "must be a string, got NoneType"),
    (
        "positive list",
        {**GOOD, "positive": ["p"]},
        "R-TDATA-3",
        "field 'positive' must be a string",
    ),
    ("empty query", {**GOOD, "query": " \t\n "}, "R-TDATA-3", "field 'query' is empty"),
    ("empty positive", {**GOOD, "positive": ""}, "R-TDATA-3", "field 'positive' is empty"),
    (
        "negatives str",
        {**GOOD, "negatives": "n1"},
        "R-TDATA-3",
        "'negatives' must be a list of strings, got str",
    ),
    ("negatives empty", {**GOOD, "negatives": []}, "R-TDATA-3", "'negatives' is an empty list"),
    (
        "negatives int",
        {**GOOD, "negatives": ["n1", 2]},
        "R-TDATA-3",
        "negatives[1] must be a string, got int",
    ),
    ("negative empty", {**GOOD, "negatives": ["n1", " "]}, "R-TDATA-3", "negatives[1] is empty"),
    (
        "negative not str",
        {"query": "q", "positive": "p", "negative": 1.5},
        "R-TDATA-3",
        "field 'negative' must be a string",
    ),
    ("both", {**GOOD, "negative": "n"}, "R-TDATA-3", "both 'negative' and 'negatives'"),
    (
        "fewer negatives",
        {**GOOD, "negatives": ["n1"]},
        "R-TDATA-4",
        "1 negatives, but line 1 has 2",
    ),
    (
        "more negatives",
        {**GOOD, "negatives": ["a", "b", "c"]},
        "R-TDATA-4",
        "same number of negatives",
    ),
    ("not JSON", '{"query": "q",', "R-TDATA-2", "invalid JSON"),
    ("not an object", '["q", "p", "n"]', "R-TDATA-2", "expected a JSON object, got list"),
]


@pytest.mark.spec("R-TDATA-1", "R-TDATA-2", "R-TDATA-3", "R-TDATA-4")
@pytest.mark.parametrize(
    ("bad", "rule", "what"), [c[1:] for c in BAD_TRIPLETS], ids=[c[0] for c in BAD_TRIPLETS]
)
def test_bad_triplets_name_file_and_line(tmp_path: Path, bad: object, rule: str, what: str) -> None:
    # R-TDATA-1 R-TDATA-2 R-TDATA-3 R-TDATA-4: the bad line (4: a blank line is counted) is
    # reported, and it is found even when it is followed by good lines (the file is read whole).
    path = _jsonl(tmp_path / "train.jsonl", [GOOD, GOOD, "", bad, GOOD, GOOD])
    _fails(lambda: read_triplets(path), path, 4, rule, what)


@pytest.mark.spec("R-TDATA-1", "R-TDATA-3")
def test_triplets_bad_last_line_fails_the_whole_read(tmp_path: Path) -> None:
    # R-TDATA-1: no set is returned when only the last of many lines is bad.
    path = _jsonl(tmp_path / "t.jsonl", [GOOD] * 200 + [{**GOOD, "query": ""}])
    _fails(lambda: read_triplets(path), path, 201, "R-TDATA-3", "'query' is empty")


@pytest.mark.spec("R-TDATA-2")
def test_triplets_not_utf8(tmp_path: Path) -> None:
    # R-TDATA-2
    path = tmp_path / "t.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"query": "\xff"}\n')
    _fails(lambda: read_triplets(path), path, 2, "R-TDATA-2", "not UTF-8")


@pytest.mark.spec("R-TDATA-1")
def test_empty_and_missing_files(tmp_path: Path) -> None:
    # R-TDATA-1
    path = _jsonl(tmp_path / "t.jsonl", ["", "  "])
    _fails(lambda: read_triplets(path), path, None, "R-TDATA-1", "no example")
    _fails(
        lambda: read_distillation(path, queries={}, corpus={}),
        path,
        None,
        "R-TDATA-1",
        "no example",
    )
    with pytest.raises(FileNotFoundError, match="R-TDATA-1"):
        read_triplets(tmp_path / "absent.jsonl")
    with pytest.raises(FileNotFoundError, match="R-TDATA-1"):
        read_distillation(tmp_path / "absent.jsonl", queries={}, corpus={})


# --- distillation ------------------------------------------------------------------------------

QUERIES = [{"_id": "q1", "text": "first query"}, {"_id": "7", "text": "second query"}]
CORPUS = [
    {"_id": "d1", "title": "T1", "text": "one"},
    {"_id": "d2", "text": " two "},
    {"_id": "d3", "text": "three"},
    {"_id": "5", "text": "five"},
]


@pytest.mark.spec("R-BEIR-4", "R-TDATA-5", "R-TDATA-6", "R-TDATA-8")
def test_distillation_happy_path(tmp_path: Path) -> None:
    # R-TDATA-5 R-TDATA-6 R-TDATA-8: integer ids read as text, documents and scores in the
    # order of document_ids, BEIR texts by R-BEIR-4, integer scores as floats.
    queries = _jsonl(tmp_path / "queries.jsonl", QUERIES)
    corpus = _jsonl(tmp_path / "corpus.jsonl", CORPUS)
    path = _jsonl(
        tmp_path / "kd.jsonl",
        [
            {"query_id": "q1", "document_ids": ["d2", "d1", 5], "scores": [0.5, 2, -1.25]},
            "",
            {"query_id": 7, "document_ids": ["d3", "d2", "d1"], "scores": [3.0, 2.0, 1.0]},
        ],
    )
    s = read_distillation(path, queries=queries, corpus=corpus)
    assert len(s) == 2
    assert s.num_documents == 3
    assert list(s) == [
        Distilled("first query", ["two", "T1 one", "five"], [0.5, 2.0, -1.25]),
        Distilled("second query", ["three", "two", "T1 one"], [3.0, 2.0, 1.0]),
    ]
    assert all(isinstance(x, float) for x in s[0].scores)
    # The folders holding the files, and mappings, give the same examples.
    assert read_distillation(path, queries=tmp_path, corpus=tmp_path).examples == s.examples
    mapped = read_distillation(
        path,
        queries={"q1": "first query", "7": "second query"},
        corpus={"d1": "T1 one", "d2": "two", "d3": "three", "5": "five", "unused": "x"},
    )
    assert mapped.examples == s.examples
    pairs = [("d1", "T1 one"), ("d2", "two"), ("d3", "three"), ("5", "five")]
    assert read_distillation(path, queries=queries, corpus=iter(pairs)).examples == s.examples


KD = {"query_id": "q1", "document_ids": ["d1", "d2"], "scores": [1.0, 0.5]}

BAD_DISTILLATION = [
    (
        "missing query_id",
        {"document_ids": ["d1", "d2"], "scores": [1, 2]},
        "R-TDATA-5",
        "missing field 'query_id'",
    ),
    (
        "missing ids",
        {"query_id": "q1", "scores": [1, 2]},
        "R-TDATA-5",
        "missing field 'document_ids'",
    ),
    (
        "missing scores",
        {"query_id": "q1", "document_ids": ["d1", "d2"]},
        "R-TDATA-5",
        "missing field 'scores'",
    ),
    (
        "query_id bool",
        {**KD, "query_id": True},
        "R-TDATA-5",
        "query_id must be a non-empty string or an integer",
    ),
    ("query_id empty", {**KD, "query_id": ""}, "R-TDATA-5", "query_id must be a non-empty string"),
    (
        "ids not list",
        {**KD, "document_ids": "d1"},
        "R-TDATA-5",
        "'document_ids' must be a list of ids, got str",
    ),
    (
        "ids empty",
        {**KD, "document_ids": [], "scores": []},
        "R-TDATA-5",
        "'document_ids' is an empty list",
    ),
    (
        "id float",
        {**KD, "document_ids": ["d1", 2.5]},
        "R-TDATA-5",
        "document_ids[1] must be a non-empty string",
    ),
    (
        "duplicate id",
        {**KD, "document_ids": ["d2", "d2"]},
        "R-TDATA-5",
        "document id 'd2' appears twice",
    ),
    (
        "duplicate int id",
        {**KD, "document_ids": [5, "5"]},
        "R-TDATA-5",
        "document id '5' appears twice",
    ),
    (
        "scores not list",
        {**KD, "scores": 1.0},
        "R-TDATA-5",
        "'scores' must be a list of numbers, got float",
    ),
    ("fewer scores", {**KD, "scores": [1.0]}, "R-TDATA-5", "1 scores for 2 document ids"),
    ("more scores", {**KD, "scores": [1.0, 2.0, 3.0]}, "R-TDATA-5", "3 scores for 2 document ids"),
    ("score str", {**KD, "scores": [1.0, "2"]}, "R-TDATA-5", "scores[1] must be a number"),
    ("score bool", {**KD, "scores": [True, 1.0]}, "R-TDATA-5", "scores[0] must be a number"),
    (
        "score NaN",
        '{"query_id": "q1", "document_ids": ["d1", "d2"], "scores": [1.0, NaN]}',
        "R-TDATA-5",
        "scores[1] is not finite",
    ),
    (
        "score Infinity",
        '{"query_id": "q1", "document_ids": ["d1", "d2"], "scores": [-Infinity, 1]}',
        "R-TDATA-5",
        "scores[0] is not finite",
    ),
    (
        "score overflow",
        '{"query_id": "q1", "document_ids": ["d1", "d2"], "scores": [1e400, 1]}',
        "R-TDATA-5",
        "scores[0] is not finite",
    ),
    (
        "score huge int",
        '{"query_id": "q1", "document_ids": ["d1", "d2"], "scores": [1, ' + "9" * 400 + "]}",
        "R-TDATA-5",
        "scores[1] is not finite",
    ),
    (
        "other width",
        {**KD, "document_ids": ["d1", "d2", "d3"], "scores": [1, 2, 3]},
        "R-TDATA-5",
        "3 documents, but line 1 has 2",
    ),
    ("unknown query", {**KD, "query_id": "q9"}, "R-TDATA-6", "unknown query id 'q9'"),
    (
        "unknown document",
        {**KD, "document_ids": ["d1", "d404"]},
        "R-TDATA-6",
        "unknown document id 'd404'",
    ),
    ("empty query text", {**KD, "query_id": "blank"}, "R-TDATA-6", "query 'blank' is empty"),
    (
        "empty document text",
        {**KD, "document_ids": ["d1", "empty"]},
        "R-TDATA-6",
        "document 'empty' is empty",
    ),
    ("not JSON", "query_id,document_ids", "R-TDATA-2", "invalid JSON"),
    ("not an object", "3", "R-TDATA-2", "expected a JSON object, got int"),
]


@pytest.mark.spec("R-TDATA-1", "R-TDATA-2", "R-TDATA-5", "R-TDATA-6")
@pytest.mark.parametrize(
    ("bad", "rule", "what"),
    [c[1:] for c in BAD_DISTILLATION],
    ids=[c[0] for c in BAD_DISTILLATION],
)
def test_bad_distillation_names_file_and_line(
    tmp_path: Path, bad: object, rule: str, what: str
) -> None:
    # R-TDATA-1 R-TDATA-2 R-TDATA-5 R-TDATA-6
    queries = _jsonl(tmp_path / "queries.jsonl", [*QUERIES, {"_id": "blank", "text": "  "}])
    corpus = _jsonl(tmp_path / "corpus.jsonl", [*CORPUS, {"_id": "empty", "text": " "}])
    path = _jsonl(tmp_path / "kd.jsonl", [KD, "", KD, bad, KD])
    _fails(lambda: read_distillation(path, queries=queries, corpus=corpus), path, 4, rule, what)


@pytest.mark.spec("R-TDATA-6")
def test_distillation_unknown_document_names_first_use(tmp_path: Path) -> None:
    # R-TDATA-6: the line named is the first that uses the unknown id; the count of unknown ids
    # is given; the corpus file is named.
    corpus = _jsonl(tmp_path / "corpus.jsonl", CORPUS)
    path = _jsonl(
        tmp_path / "kd.jsonl",
        [
            KD,
            {**KD, "document_ids": ["d1", "x"]},
            {**KD, "document_ids": ["y", "x"]},
        ],
    )
    queries = {"q1": "first"}
    _fails(
        lambda: read_distillation(path, queries=queries, corpus=corpus),
        path,
        2,
        "R-TDATA-6",
        f"unknown document id 'x' (not in {corpus}; 2 unknown in all)",
    )


# --- BEIR train pairs --------------------------------------------------------------------------


@pytest.mark.spec("R-TDATA-7", "R-TDATA-8")
def test_beir_pairs_happy_path(tmp_path: Path) -> None:
    # R-TDATA-7 R-TDATA-8: relevance >= 1 only, a repeated judgment once, qrels file order.
    folder = _beir(
        tmp_path / "beir",
        "query-id\tcorpus-id\tscore\nq2\td3\t1\nq1\td1\t2\nq1\td2\t0\nq2\td3\t1\n\nq1\t5\t1\n",
        [*QUERIES, {"_id": "q2", "text": "third query"}],
        CORPUS,
    )
    s = read_beir_pairs(folder)
    assert s.path == folder / "qrels" / "train.tsv"
    assert list(s) == [
        Pair("third query", "three"),
        Pair("first query", "T1 one"),
        Pair("first query", "five"),
    ]
    assert s[0].positive == "three"
    (folder / "qrels" / "dev.tsv").write_text("q1\td2\t1\n", encoding="utf-8")
    assert list(read_beir_pairs(folder, split="dev")) == [Pair("first query", "two")]


BAD_PAIRS = [
    ("unknown query", "q9\td1\t1\n", "R-TDATA-7", "unknown query id 'q9'"),
    ("unknown document", "q1\td9\t1\n", "R-TDATA-7", "unknown document id 'd9'"),
    ("unknown document, relevance 0", "q1\td9\t0\n", "R-TDATA-7", "unknown document id 'd9'"),
    ("empty query text", "blank\td1\t1\n", "R-TDATA-7", "query 'blank' is empty"),
    ("empty document text", "q1\tempty\t1\n", "R-TDATA-7", "document 'empty' is empty"),
    ("bad relevance", "q1\td1\tyes\n", "R-EVAL-12", "relevance 'yes' is not an integer"),
]


@pytest.mark.spec("R-EVAL-12", "R-TDATA-7")
@pytest.mark.parametrize(
    ("bad", "rule", "what"), [c[1:] for c in BAD_PAIRS], ids=[c[0] for c in BAD_PAIRS]
)
def test_bad_beir_pairs_name_file_and_line(tmp_path: Path, bad: str, rule: str, what: str) -> None:
    # R-TDATA-7: the qrels line that uses the bad id (line 5: header, two judgments, a blank).
    folder = _beir(
        tmp_path / "beir",
        "query-id\tcorpus-id\tscore\nq1\td1\t1\n7\td2\t1\n\n" + bad + "7\td3\t1\n",
        [*QUERIES, {"_id": "blank", "text": " "}],
        [*CORPUS, {"_id": "empty", "text": ""}],
    )
    qrels = folder / "qrels" / "train.tsv"
    _fails(lambda: read_beir_pairs(folder), qrels, 5, rule, what)


@pytest.mark.spec("R-TDATA-1", "R-TDATA-7")
def test_beir_pairs_errors(tmp_path: Path) -> None:
    # R-TDATA-1 R-TDATA-7: no relevant pair; missing folder or split.
    folder = _beir(tmp_path / "beir", "q1\td1\t0\n", QUERIES, CORPUS)
    _fails(
        lambda: read_beir_pairs(folder),
        folder / "qrels" / "train.tsv",
        None,
        "R-TDATA-1",
        "no judged pair with relevance >= 1",
    )
    with pytest.raises(FileNotFoundError):
        read_beir_pairs(tmp_path / "absent")
    with pytest.raises(FileNotFoundError):
        read_beir_pairs(folder, split="test")


@pytest.mark.spec("R-TDATA-7")
def test_scifact_train_pairs() -> None:
    # R-TDATA-7 on real data: one example per judged train pair, counted from the file itself.
    qrels = SCIFACT / "qrels" / "train.tsv"
    if not qrels.is_file():
        pytest.skip(f"SciFact's train split is not in {SCIFACT}")
    rows = [line.split("\t") for line in qrels.read_text(encoding="utf-8").splitlines()[1:]]
    judged = {(q, d) for q, d, rel in rows if int(rel) >= 1}
    assert len(judged) > 800
    s = read_beir_pairs(SCIFACT, split="train")
    assert len(s) == len(judged)
    queries = {
        json.loads(x)["_id"]: json.loads(x)["text"]
        for x in (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    }
    assert s[0].query == queries[rows[0][0]]
    assert all(p.query.strip() and p.positive.strip() for p in s)


# --- batches -----------------------------------------------------------------------------------


@pytest.mark.spec("R-TDATA-9")
def test_batches_are_a_seeded_partition() -> None:
    # R-TDATA-9: same (seed, epoch) -> same batches; each epoch is a permutation of 0..n-1 cut
    # into runs of batch_size; another epoch or seed gives another order.
    first = batches(103, 10, seed=7, epoch=2)
    assert first == batches(103, 10, seed=7, epoch=2)
    assert [len(b) for b in first] == [10] * 10 + [3]
    assert sorted(i for b in first for i in b) == list(range(103))
    assert all(isinstance(i, int) for b in first for i in b)
    order = np.random.default_rng(np.random.SeedSequence([7, 2])).permutation(103).tolist()
    assert [i for b in first for i in b] == order
    assert batches(103, 10, seed=7, epoch=3) != first
    assert batches(103, 10, seed=8, epoch=2) != first
    dropped = batches(103, 10, seed=7, epoch=2, drop_last=True)
    assert dropped == first[:-1]
    assert batches(100, 10, seed=7, epoch=2, drop_last=True) == batches(100, 10, seed=7, epoch=2)
    assert batches(0, 4, seed=0, epoch=0) == []
    assert batches(3, 4, seed=0, epoch=0, drop_last=True) == []
    with pytest.raises(InputError, match="R-TDATA-9: drop_last must be True or False"):
        batches(10, 4, 0, 0, drop_last=1)


@pytest.mark.spec("R-TDATA-9")
def test_batches_golden_order() -> None:
    # R-TDATA-9: pinned so that a change of NumPy's stream (which would break resuming a run
    # started with another NumPy) is seen here first.
    assert batches(10, 4, seed=0, epoch=0) == [[4, 6, 2, 7], [3, 5, 9, 0], [8, 1]]


@pytest.mark.spec("R-TDATA-9")
@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((-1, 4, 0, 0), "n"),
        ((10, 0, 0, 0), "batch_size"),
        ((10, 4.0, 0, 0), "batch_size"),
        ((10, 4, -1, 0), "seed"),
        ((10, 4, True, 0), "seed"),
        ((10, 4, 0, -2), "epoch"),
        ((10, 4, 0, "1"), "epoch"),
    ],
)
def test_batches_check_their_arguments(args: tuple, name: str) -> None:
    # R-TDATA-9
    with pytest.raises(InputError, match=f"R-TDATA-9: {name} must be an integer"):
        batches(*args)


def test_data_module_does_not_import_torch() -> None:
    # The readers are used by `lateint mine` and the trainer alike; they need no torch.
    tree = ast.parse((ROOT / "lateint_ref" / "training" / "data.py").read_text())
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {
        (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    assert "numpy" in imported  # the walk sees the imports
    assert "torch" not in imported
