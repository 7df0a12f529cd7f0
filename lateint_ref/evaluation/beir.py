"""Collections on disk (spec/evaluation.md §R-BEIR): the BEIR layout, a user's JSONL, a folder of
.txt files.

A BEIR folder holds ``corpus.jsonl`` (``{"_id", "title"?, "text", ...}`` per line),
``queries.jsonl`` (``{"_id", "text", ...}``) and ``qrels/<split>.tsv``. A document's text is its
title and text joined as BEIR and PyLate join them (R-BEIR-4)::

    (title + " " + text).strip()   if the record has a title, else   text.strip()

Corpora are streamed: ``load_corpus`` returns a ``Corpus``, an iterable of ``(id, text)`` pairs
that reads the file again on each pass, so a large corpus is never held in memory at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lateint_ref.errors import InputError
from lateint_ref.evaluation.trec import read_qrels

BEIR_TEXT_FIELDS = ("title", "text")


class Corpus:
    """A re-iterable stream of ``(id, text)`` pairs read from ``path`` (R-BEIR-8)."""

    def __init__(
        self, path: Path, id_field: str | None, text_fields: Sequence[str], required: str | None
    ) -> None:
        self.path = path
        self._id_field = id_field
        self._text_fields = tuple(text_fields)
        self._required = required

    def __iter__(self) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        for n, record in jsonl_records(self.path):
            where = f"{self.path} line {n}"
            doc_id = _record_id(record, self._id_field, where)
            if doc_id in seen:
                raise InputError(f"R-BEIR-3: {where}: duplicate id {doc_id!r}")
            seen.add(doc_id)
            yield doc_id, _joined(record, self._text_fields, self._required, where)

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r})"


def jsonl_records(path: Path, rule: str = "R-BEIR-6") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, JSON object)`` of every non-blank line (R-BEIR-2, R-BEIR-6); a bad line
    raises ``InputError`` citing ``rule`` (a reader of another JSONL format names its own)."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{rule}: {path} line {n}: not UTF-8 text ({exc})") from exc
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{rule}: {path} line {n}: invalid JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise InputError(
                    f"{rule}: {path} line {n}: expected a JSON object, got {type(record).__name__}"
                )
            yield n, record


def _record_id(record: dict[str, Any], id_field: str | None, where: str) -> str:
    """The record's id as text (R-BEIR-3): ``id_field``, or ``_id`` else ``id`` when None."""
    if id_field is None:
        id_field = "_id" if "_id" in record else "id"
    if id_field not in record:
        raise InputError(f"R-BEIR-6: {where}: missing id field {id_field!r}")
    value = record[id_field]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise InputError(
            f"R-BEIR-3: {where}: id field {id_field!r} must be a non-empty string or an "
            f"integer, got {value!r}"
        )
    return value


def _joined(record: dict[str, Any], fields: Sequence[str], required: str | None, where: str) -> str:
    """The present, non-null ``fields`` joined by single spaces, then stripped (R-BEIR-4)."""
    if required is not None and record.get(required) is None:
        raise InputError(f"R-BEIR-6: {where}: missing field {required!r}")
    parts = []
    for field in fields:
        value = record.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(
                f"R-BEIR-6: {where}: field {field!r} must be a string, got {type(value).__name__}"
            )
        parts.append(value)
    if not parts:
        raise InputError(f"R-BEIR-6: {where}: none of the text fields {list(fields)} is present")
    return " ".join(parts).strip()


def _file(path: str | os.PathLike[str], name: str) -> Path:
    """``path`` itself, or ``path/name`` when ``path`` is a folder; missing: FileNotFoundError."""
    path = Path(path)
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise FileNotFoundError(f"R-BEIR-1: no such file: {path}")
    return path


def load_corpus(path: str | os.PathLike[str]) -> Corpus:
    """A BEIR ``corpus.jsonl`` (or the folder holding it) as a stream of ``(id, text)`` pairs:
    id from ``_id``, text from ``title`` and ``text`` joined by R-BEIR-4 (``text`` required)."""
    return Corpus(_file(path, "corpus.jsonl"), "_id", BEIR_TEXT_FIELDS, "text")


def read_jsonl_corpus(
    path: str | os.PathLike[str],
    id_field: str | None = None,
    text_fields: Sequence[str] = BEIR_TEXT_FIELDS,
) -> Corpus:
    """A user's JSONL file as a stream of ``(id, text)`` pairs. ``id_field``: the id's key;
    None reads ``_id`` when present, else ``id``. The text is the present fields of
    ``text_fields`` joined by single spaces, then stripped; at least one must be present."""
    if isinstance(text_fields, str) or not text_fields:
        raise InputError(f"R-BEIR-4: text_fields must be a non-empty list of keys: {text_fields!r}")
    return Corpus(_file(path, "corpus.jsonl"), id_field, text_fields, None)


def load_queries(path: str | os.PathLike[str]) -> dict[str, str]:
    """A BEIR ``queries.jsonl`` (or its folder) as ``{query id: text}`` in file order; the text
    is kept as written (R-BEIR-5)."""
    path = _file(path, "queries.jsonl")
    out: dict[str, str] = {}
    for n, record in jsonl_records(path):
        where = f"{path} line {n}"
        qid = _record_id(record, "_id", where)
        if qid in out:
            raise InputError(f"R-BEIR-3: {where}: duplicate id {qid!r}")
        text = record.get("text")
        if not isinstance(text, str):
            raise InputError(f"R-BEIR-6: {where}: field 'text' must be a string, got {text!r}")
        out[qid] = text
    return out


def qrels_file(folder: str | os.PathLike[str], split: str) -> Path:
    """The path ``folder/qrels/<split>.tsv`` of an existing file (R-BEIR-1)."""
    if not isinstance(split, str) or not split or "/" in split or "\\" in split:
        raise InputError(f"R-BEIR-1: split must be a plain name like 'test', got {split!r}")
    path = Path(folder) / "qrels" / f"{split}.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"R-BEIR-1: no such file: {path}")
    return path


def load_qrels(folder: str | os.PathLike[str], split: str = "test") -> dict[str, dict[str, int]]:
    """The judgments ``folder/qrels/<split>.tsv`` as ``{query id: {doc id: relevance}}``."""
    return read_qrels(qrels_file(folder, split))


def load_dataset(
    folder: str | os.PathLike[str], split: str = "test"
) -> tuple[Corpus, dict[str, str], dict[str, dict[str, int]]]:
    """``(corpus, queries, qrels)`` of a BEIR folder: the corpus stream, the queries judged in
    ``split`` (in ``queries.jsonl`` order) and their judgments (R-BEIR-5)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"R-BEIR-1: no such folder: {folder}")
    qrels = load_qrels(folder, split)
    all_queries = load_queries(folder / "queries.jsonl")
    unknown = [q for q in qrels if q not in all_queries]
    if unknown:
        raise InputError(
            f"R-BEIR-5: {len(unknown)} judged queries of {split}.tsv are not in queries.jsonl, "
            f"e.g. {unknown[0]!r}"
        )
    queries = {q: t for q, t in all_queries.items() if q in qrels}
    return load_corpus(folder / "corpus.jsonl"), queries, qrels


def read_text_folder(path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """The ``*.txt`` files directly in folder ``path`` as ``(id, text)`` pairs, sorted by file
    name: id = the file name without ``.txt``, text = its UTF-8 content stripped (R-BEIR-7)."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"R-BEIR-7: no such folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file())
    if not files:
        raise InputError(f"R-BEIR-7: no .txt file in {folder}")
    return _text_files(files)


def _text_files(files: list[Path]) -> Iterator[tuple[str, str]]:
    for p in files:
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"R-BEIR-7: {p}: not UTF-8 text ({exc})") from exc
        yield p.stem, text.strip()
