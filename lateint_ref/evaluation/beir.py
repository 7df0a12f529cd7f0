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

import codecs
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lateint_ref.errors import InputError
from lateint_ref.evaluation.trec import read_qrels

BEIR_TEXT_FIELDS = ("title", "text")
BAD_TEXT = ("error", "skip", "replace")  # what a reader does with bytes it cannot decode
_ADVICE = "give its encoding (encoding=, --encoding), or skip or replace what cannot be decoded "
_ADVICE += "(errors=, --on-bad-text)"


def text_encoding(encoding: str, errors: str, jsonl: bool) -> str:
    """The codec name ``encoding`` checked (R-CLI-20): a text encoding Python knows and, for a
    JSONL file (split into lines at newline bytes), one that writes a newline as that byte;
    ``errors`` one of ``BAD_TEXT``. Anything else raises ``InputError`` naming the value."""
    if errors not in BAD_TEXT:
        raise InputError(f"R-CLI-20: errors must be one of {BAD_TEXT}, got {errors!r}")
    name = codec_name(encoding)
    if jsonl and "\n".encode(name, "replace") != b"\n":
        raise InputError(
            f"R-CLI-20: encoding {encoding!r} cannot be read line by line (a newline is not the "
            "byte 0x0a); a JSONL corpus must be in an encoding that is (UTF-8, latin-1, cp1252...)"
        )
    return name


def codec_name(encoding: str) -> str:
    """The canonical name of the text encoding ``encoding`` (R-CLI-20); a name Python does not
    know, or a codec that is no text encoding (``rot13``), raises ``InputError``."""
    try:
        info = codecs.lookup(encoding) if isinstance(encoding, str) else None
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InputError(f"R-CLI-20: unknown text encoding {encoding!r}")
    return info.name


def decoded(raw: bytes, encoding: str, errors: str, where: str) -> str | None:
    """``raw`` decoded with ``encoding`` (R-CLI-20): None when it cannot be and ``errors`` is
    "skip", U+FFFD for each bad sequence with "replace", else ``InputError`` naming ``where``."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if errors == "replace":
            return raw.decode(encoding, "replace")
        if errors == "skip":
            return None
        raise InputError(
            f"R-CLI-20: {where}: not {encoding} text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}): {_ADVICE}"
        ) from exc


class Corpus:
    """A re-iterable stream of ``(id, text)`` pairs read from ``path`` (R-BEIR-8), decoded with
    ``encoding`` (R-CLI-20); ``skipped``: the records of the last pass that could not be decoded
    (``errors="skip"``)."""

    def __init__(
        self,
        path: Path,
        id_field: str | None,
        text_fields: Sequence[str],
        required: str | None,
        encoding: str = "utf-8",
        errors: str = "error",
    ) -> None:
        self.path = path
        self._id_field = id_field
        self._text_fields = tuple(text_fields)
        self._required = required
        self._encoding = text_encoding(encoding, errors, jsonl=True)
        self._errors = errors
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        self.skipped = 0
        records = jsonl_records(self.path, encoding=self._encoding, errors=self._errors, skip=self)
        for n, record in records:
            where = f"{self.path} line {n}"
            doc_id = _record_id(record, self._id_field, where)
            if doc_id in seen:
                raise InputError(f"R-BEIR-3: {where}: duplicate id {doc_id!r}")
            seen.add(doc_id)
            yield doc_id, _joined(record, self._text_fields, self._required, where)

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r})"


# A JSON escape of a UTF-16 surrogate (``\\ud800`` to ``\\udfff``); paired ones are text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def jsonl_records(
    path: Path,
    rule: str = "R-BEIR-6",
    *,
    encoding: str | None = None,
    errors: str = "error",
    skip: Corpus | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, JSON object)`` of every non-blank line (R-BEIR-2, R-BEIR-6); a bad line
    raises ``InputError`` citing ``rule`` (a reader of another JSONL format names its own).
    ``encoding`` (checked by ``text_encoding``): the lines are decoded as R-CLI-20 says, a line
    skipped counted in ``skip.skipped``; None: UTF-8 only, a line that is not raises ``rule``."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if encoding is None:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{rule}: {path} line {n}: not UTF-8 text ({exc})") from exc
            else:
                text = decoded(raw, encoding, errors, f"{path} line {n}")
                if text is None:
                    if skip is not None:
                        skip.skipped += 1
                    continue
                line = text
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
            if _SURROGATE_ESCAPE.search(line):  # R-BEIR-2: a lone surrogate is no text
                try:
                    json.dumps(record, ensure_ascii=False).encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise InputError(
                        f"{rule}: {path} line {n}: a string holds a lone surrogate escape "
                        f"(\\ud800 to \\udfff without its pair), which is not text"
                    ) from exc
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


def load_corpus(
    path: str | os.PathLike[str], *, encoding: str = "utf-8", errors: str = "error"
) -> Corpus:
    """A BEIR ``corpus.jsonl`` (or the folder holding it) as a stream of ``(id, text)`` pairs:
    id from ``_id``, text from ``title`` and ``text`` joined by R-BEIR-4 (``text`` required).
    ``encoding`` and ``errors`` ("error", "skip" or "replace"): R-CLI-20."""
    return Corpus(_file(path, "corpus.jsonl"), "_id", BEIR_TEXT_FIELDS, "text", encoding, errors)


def read_jsonl_corpus(
    path: str | os.PathLike[str],
    id_field: str | None = None,
    text_fields: Sequence[str] = BEIR_TEXT_FIELDS,
    *,
    encoding: str = "utf-8",
    errors: str = "error",
) -> Corpus:
    """A user's JSONL file as a stream of ``(id, text)`` pairs. ``id_field``: the id's key;
    None reads ``_id`` when present, else ``id``. The text is the present fields of
    ``text_fields`` joined by single spaces, then stripped; at least one must be present.
    ``encoding`` and ``errors`` ("error", "skip" or "replace"): R-CLI-20."""
    if isinstance(text_fields, str) or not text_fields:
        raise InputError(f"R-BEIR-4: text_fields must be a non-empty list of keys: {text_fields!r}")
    return Corpus(_file(path, "corpus.jsonl"), id_field, text_fields, None, encoding, errors)


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


class TextFiles(Iterator[tuple[str, str]]):
    """The ``(id, text)`` pairs of ``read_text_folder``, read one file at a time; ``skipped``:
    the files so far that could not be decoded (``errors="skip"``, R-CLI-20)."""

    def __init__(self, files: list[Path], encoding: str, errors: str) -> None:
        self._files = iter(files)
        self._encoding = encoding
        self._errors = errors
        self.skipped = 0

    def __next__(self) -> tuple[str, str]:
        for p in self._files:
            text = decoded(p.read_bytes(), self._encoding, self._errors, str(p))
            if text is None:
                self.skipped += 1
                continue
            return p.stem, text.strip()
        raise StopIteration


def read_text_folder(
    path: str | os.PathLike[str], *, encoding: str = "utf-8", errors: str = "error"
) -> TextFiles:
    """The ``*.txt`` files directly in folder ``path`` as ``(id, text)`` pairs, sorted by file
    name: id = the file name without ``.txt``, text = its content stripped (R-BEIR-7), decoded
    with ``encoding``; ``errors`` ("error", "skip" or "replace"): R-CLI-20."""
    codec = text_encoding(encoding, errors, jsonl=False)
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"R-BEIR-7: no such folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file())
    if not files:
        raise InputError(f"R-BEIR-7: no .txt file in {folder}")
    return TextFiles(files, codec, errors)
