"""Collections on disk (spec/evaluation.md §2): the BEIR layout on ../shared/data, a user's JSONL
and text folders, and the errors a person can act on (file and line number)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import beir_collection

from lateint_ref import InputError
from lateint_ref.evaluation.beir import (
    load_corpus,
    load_dataset,
    load_qrels,
    load_queries,
    read_jsonl_corpus,
    read_text_folder,
)


def _data(name: str) -> Path:
    return beir_collection(name)


def _pylate_text(record: dict) -> str:
    """PyLate's ``evaluation.load_beir`` rule, on the record as BEIR's loader reads it."""
    doc = {"title": record.get("title"), "text": record.get("text")}
    return f"{doc['title']} {doc['text']}".strip() if "title" in record else doc["text"].strip()


@pytest.mark.spec("R-BEIR-1", "R-BEIR-3", "R-BEIR-4", "R-BEIR-5")
@pytest.mark.parametrize(
    ("name", "n_docs", "n_queries", "n_pairs"),
    [("scifact", 5183, 300, 339), ("cranfield", 1400, 225, 1837), ("vaswani", 11429, 93, 2083)],
)
def test_real_collections(name: str, n_docs: int, n_queries: int, n_pairs: int) -> None:
    # R-BEIR-1 R-BEIR-3 R-BEIR-4 R-BEIR-5
    folder = _data(name)
    corpus, queries, qrels = load_dataset(folder, "test")
    docs = list(corpus)
    assert len(docs) == n_docs
    assert len(queries) == len(qrels) == n_queries
    assert sum(len(j) for j in qrels.values()) == n_pairs
    assert set(queries) == set(qrels)
    records = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
    assert docs == [(str(r["_id"]), _pylate_text(r)) for r in records]
    all_queries = [json.loads(x) for x in (folder / "queries.jsonl").read_text().splitlines()]
    expected = [(str(q["_id"]), q["text"]) for q in all_queries if str(q["_id"]) in qrels]
    assert list(queries.items()) == expected  # file order, text as written
    assert list(corpus) == docs  # re-iterable: a second pass reads the file again


@pytest.mark.spec("R-BEIR-1", "R-BEIR-4")
def test_scifact_train_split_and_title_join() -> None:
    # R-BEIR-1 R-BEIR-4: title and abstract joined by one space
    folder = _data("scifact")
    qrels = load_qrels(folder, "train")
    assert sum(len(j) for j in qrels.values()) == 919
    with (folder / "corpus.jsonl").open() as f:
        first = json.loads(f.readline())
    doc_id, text = next(iter(load_corpus(folder)))
    assert doc_id == first["_id"]
    assert text == first["title"] + " " + first["text"]


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


@pytest.mark.spec("R-BEIR-2", "R-BEIR-4")
def test_join_rule_edge_cases(tmp_path: Path) -> None:
    # R-BEIR-2 R-BEIR-4: missing or null title -> text alone; stripped; other fields ignored
    path = _write(
        tmp_path / "corpus.jsonl",
        [
            {"_id": "a", "title": "T", "text": "body", "metadata": {"x": 1}},
            {"_id": "b", "text": "  body only \n"},
            {"_id": "c", "title": None, "text": "null title"},
            {"_id": "d", "title": "", "text": "empty title"},
            {"_id": 7, "title": "Only title ", "text": ""},
        ],
    )
    assert list(load_corpus(path)) == [
        ("a", "T body"),
        ("b", "body only"),
        ("c", "null title"),
        ("d", "empty title"),
        ("7", "Only title"),
    ]


@pytest.mark.spec("R-BEIR-2", "R-BEIR-3", "R-BEIR-4", "R-BEIR-6")
def test_user_jsonl_fields(tmp_path: Path) -> None:
    # R-BEIR-2 R-BEIR-3 R-BEIR-4: id from "_id" else "id" (or a named field); chosen text
    # fields; blank lines skipped
    path = _write(
        tmp_path / "mine.jsonl",
        [{"id": "x1", "headline": "H", "body": "B"}, {"id": 2, "body": "only body"}, ""],
    )
    assert list(read_jsonl_corpus(path, text_fields=("headline", "body"))) == [
        ("x1", "H B"),
        ("2", "only body"),
    ]
    assert list(read_jsonl_corpus(path, id_field="id", text_fields=["body"])) == [
        ("x1", "B"),
        ("2", "only body"),
    ]
    with pytest.raises(InputError, match=r"R-BEIR-6: .*mine.jsonl line 1: none of the text"):
        list(read_jsonl_corpus(path))
    with pytest.raises(InputError, match="R-BEIR-4"):
        read_jsonl_corpus(path, text_fields="body")


@pytest.mark.spec("R-BEIR-3", "R-BEIR-6", "R-BEIR-8")
@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("{not json", "R-BEIR-6: .* line 3: invalid JSON"),
        ("[1, 2]", "R-BEIR-6: .* line 3: expected a JSON object"),
        ({"title": "t", "text": "x"}, "R-BEIR-6: .* line 3: missing id field '_id'"),
        ({"_id": "z", "title": "t"}, "R-BEIR-6: .* line 3: missing field 'text'"),
        ({"_id": "z", "text": 5}, "R-BEIR-6: .* line 3: field 'text' must be a string"),
        ({"_id": "", "text": "x"}, "R-BEIR-3: .* line 3: id field"),
        ({"_id": 1.5, "text": "x"}, "R-BEIR-3: .* line 3: id field"),
        ({"_id": "a", "text": "again"}, "R-BEIR-3: .* line 3: duplicate id 'a'"),
    ],
)
def test_malformed_corpus_lines(tmp_path: Path, line: object, what: str) -> None:
    # R-BEIR-6 R-BEIR-8: the error names file and line, after the good lines were streamed
    path = _write(tmp_path / "corpus.jsonl", [{"_id": "a", "text": "ok"}, "", line])
    stream = iter(load_corpus(tmp_path))
    assert next(stream) == ("a", "ok")
    with pytest.raises(InputError, match=what) as err:
        next(stream)
    assert str(path) in str(err.value)


@pytest.mark.spec("R-BEIR-1", "R-BEIR-6", "R-CLI-20")
def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    # R-BEIR-1 R-BEIR-6 (undecodable bytes: R-CLI-20)
    (tmp_path / "corpus.jsonl").write_bytes(b'{"_id": "a", "text": "ok"}\n{"_id": "\xff"}\n')
    with pytest.raises(InputError, match=r"R-CLI-20: .* line 2: not utf-8"):
        list(load_corpus(tmp_path))
    with pytest.raises(FileNotFoundError, match="R-BEIR-1"):
        load_corpus(tmp_path / "absent.jsonl")
    with pytest.raises(FileNotFoundError, match=r"queries.jsonl"):
        load_queries(tmp_path)
    with pytest.raises(FileNotFoundError, match="R-BEIR-1"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"dev.tsv"):
        load_qrels(tmp_path, "dev")
    with pytest.raises(InputError, match="R-BEIR-1: split"):
        load_qrels(tmp_path, "../test")


def _dataset(tmp_path: Path, queries: list) -> Path:
    _write(tmp_path / "corpus.jsonl", [{"_id": "d1", "text": "x"}])
    _write(tmp_path / "queries.jsonl", queries)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td1\t1\n")
    return tmp_path


@pytest.mark.spec("R-BEIR-5")
def test_dataset_keeps_judged_queries(tmp_path: Path) -> None:
    # R-BEIR-5
    folder = _dataset(tmp_path, [{"_id": "q1", "text": " a "}, {"_id": "q2", "text": " b "}])
    _, queries, qrels = load_dataset(folder)
    assert queries == {"q2": " b "}
    assert qrels == {"q2": {"d1": 1}}


@pytest.mark.spec("R-BEIR-5")
def test_dataset_judged_query_missing(tmp_path: Path) -> None:
    # R-BEIR-5
    folder = _dataset(tmp_path, [{"_id": "q1", "text": "a"}])
    with pytest.raises(InputError, match=r"R-BEIR-5: 1 judged queries .* 'q2'"):
        load_dataset(folder)


@pytest.mark.spec("R-BEIR-3", "R-BEIR-6")
def test_bad_queries(tmp_path: Path) -> None:
    # R-BEIR-3 R-BEIR-6
    _write(tmp_path / "queries.jsonl", [{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}])
    with pytest.raises(InputError, match=r"R-BEIR-3: .* line 2: duplicate id"):
        load_queries(tmp_path)
    _write(tmp_path / "queries.jsonl", [{"_id": "q1"}])
    with pytest.raises(InputError, match=r"R-BEIR-6: .* line 1: field 'text'"):
        load_queries(tmp_path)


@pytest.mark.spec("R-BEIR-7", "R-CLI-20")
def test_text_folder(tmp_path: Path) -> None:
    # R-BEIR-7: .txt files only, sorted by name, id = stem, text stripped
    (tmp_path / "b.txt").write_text("  second\n")
    (tmp_path / "a.v2.txt").write_text("first")
    (tmp_path / "notes.md").write_text("ignored")
    (tmp_path / "sub.txt").mkdir()
    assert list(read_text_folder(tmp_path)) == [("a.v2", "first"), ("b", "second")]
    (tmp_path / "c.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match=r"R-CLI-20: .*c\.txt: not utf-8"):
        list(read_text_folder(tmp_path))


@pytest.mark.spec("R-BEIR-7")
def test_text_folder_errors(tmp_path: Path) -> None:
    # R-BEIR-7
    with pytest.raises(InputError, match=r"R-BEIR-7: no .txt file"):
        read_text_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="R-BEIR-7"):
        read_text_folder(tmp_path / "absent")
