"""TREC run and qrels files (spec/evaluation.md R-EVAL-10 to R-EVAL-12): ``write_run``,
``read_run``, ``read_qrels`` (which also reads BEIR's ``qrels/<split>.tsv``) and ``iter_qrels``."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lateint_ref._files import write_text_atomic
from lateint_ref.errors import InputError
from lateint_ref.evaluation.metrics import Run, as_id, run_items


def _field_id(x: Any, what: str) -> str:
    """An id written to a TREC file: text without whitespace (R-EVAL-10)."""
    text = as_id(x, what)
    if any(c.isspace() for c in text):
        raise InputError(f"R-EVAL-10: {what} id {text!r} contains whitespace")
    return text


def write_run(path: str | os.PathLike[str], run: Run, tag: str = "lateint") -> None:
    """Writes ``run`` as a TREC run file (R-EVAL-10): ``qid Q0 docid rank score tag``, one line
    per document, queries in the run's order, documents in trec_eval's order with ranks from 1,
    scores as the shortest decimal text that reads back to the same float64. Atomic: the file
    appears complete or not at all."""
    if not isinstance(tag, str) or not tag or any(c.isspace() for c in tag):
        raise InputError(f"R-EVAL-10: tag must be non-empty text without whitespace, got {tag!r}")
    lines = []
    for qid, items in run_items(run).items():
        q = _field_id(qid, "query")
        for rank, (did, score) in enumerate(items, start=1):
            lines.append(f"{q} Q0 {_field_id(did, 'document')} {rank} {score!r} {tag}\n")
    write_text_atomic(path, "".join(lines))


def _lines(path: str | os.PathLike[str]) -> Iterable[tuple[int, list[str]]]:
    """``(line number, whitespace-split fields)`` of every non-blank line of a UTF-8 file."""
    path = Path(path)
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"R-EVAL-12: {path} line {n}: not UTF-8 text ({exc})") from exc
            if line.strip():
                yield n, line.split()


def read_run(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """A TREC run file (R-EVAL-10) as ``{query id: {doc id: score}}``, queries and documents in
    file order; the rank column is checked to be an integer and otherwise ignored, as trec_eval
    ranks by score. A malformed line raises ``InputError`` naming the file and line (R-EVAL-12)."""
    out: dict[str, dict[str, float]] = {}
    for n, fields in _lines(path):
        where = f"{path} line {n}"
        if len(fields) != 6:
            raise InputError(
                f"R-EVAL-12: {where}: expected 6 fields 'qid Q0 docid rank score tag', "
                f"got {len(fields)}"
            )
        qid, _, did, rank, score, _ = fields
        try:
            int(rank)
            value = float(score)
        except ValueError as exc:
            raise InputError(f"R-EVAL-12: {where}: bad rank or score ({exc})") from exc
        if not math.isfinite(value):
            raise InputError(f"R-EVAL-12: {where}: score {score!r} is not finite")
        docs = out.setdefault(qid, {})
        if did in docs:
            raise InputError(f"R-EVAL-12: {where}: document {did!r} listed twice for query {qid!r}")
        docs[did] = value
    return out


def read_qrels(path: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
    """Judgments ``{query id: {doc id: relevance}}`` from either qrels format (R-EVAL-11):

    * BEIR ``qrels/<split>.tsv``: tab-separated ``query-id corpus-id score`` lines after a header
      line (a first line whose third field is not an integer);
    * TREC qrels: ``qid iteration docid relevance`` (4 whitespace-separated fields).

    The format is chosen by the first non-blank line and holds for the whole file. A pair judged
    twice with different relevance, or any malformed line, raises ``InputError`` naming the file
    and line (R-EVAL-12)."""
    out: dict[str, dict[str, int]] = {}
    for _, qid, did, rel in iter_qrels(path):
        out.setdefault(qid, {})[did] = rel
    return out


def iter_qrels(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, str, int]]:
    """``(line number, query id, doc id, relevance)`` of each judgment of a qrels file, in file
    order, as ``read_qrels`` reads it (same formats and errors); a pair judged twice with the same
    relevance is yielded once, at its first line."""
    judged: dict[tuple[str, str], int] = {}
    n_fields = 0
    for n, fields in _lines(path):
        where = f"{path} line {n}"
        if not n_fields:
            n_fields = len(fields)
            if n_fields == 3 and not _is_int(fields[2]):
                continue  # the BEIR header
            if n_fields not in (3, 4):
                raise InputError(
                    f"R-EVAL-12: {where}: expected 'query-id corpus-id score' (BEIR) or "
                    f"'qid 0 docid rel' (TREC), got {len(fields)} fields"
                )
        if len(fields) != n_fields:
            raise InputError(f"R-EVAL-12: {where}: expected {n_fields} fields, got {len(fields)}")
        if n_fields == 3:
            qid, did, rel = fields
        else:
            qid, _, did, rel = fields
        if not _is_int(rel):
            raise InputError(f"R-EVAL-12: {where}: relevance {rel!r} is not an integer")
        before = judged.get((qid, did))
        if before is None:
            judged[qid, did] = int(rel)
            yield n, qid, did, int(rel)
        elif before != int(rel):
            raise InputError(
                f"R-EVAL-12: {where}: query {qid!r} doc {did!r} judged {before} and {rel}"
            )


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
