"""Training data on disk (spec/training_data.md, R-TDATA): triplets JSONL, PyLate's distillation
JSONL with its queries and corpus, and the judged pairs of a BEIR train split.

Every reader reads and checks its whole file when it is called and returns an in-memory set of
examples in file order (R-TDATA-1): a set that exists holds only valid examples, so a trainer that
reads its data before its first step fails before that step. Bad data raises ``InputError`` naming
the requirement, the file and the 1-based line::

    R-TDATA-3: train.jsonl line 7: field 'query' is empty

The examples are what the losses take: ``Triplet(query, [positive, negative1, ...])``,
``Distilled(query, [doc, ...], [score, ...])`` and ``Pair(query, positive)``. Hard negatives for
a BEIR train split come from ``lateint mine``, which writes a triplets file: ``read_beir_pairs``
gives the judged positives only. ``batches`` is the seeded order of one epoch (R-TDATA-9).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

from lateint_ref import _checks
from lateint_ref.errors import InputError
from lateint_ref.evaluation.beir import jsonl_records, load_corpus, load_queries, qrels_file
from lateint_ref.evaluation.trec import iter_qrels


class Triplet(NamedTuple):
    """One example of a triplets file: ``documents = [positive, negative1, ...]``, positive first
    (``1 + n_negatives`` texts, the same count for every example of a set)."""

    query: str
    documents: list[str]


class Distilled(NamedTuple):
    """One example of a distillation file: ``documents: [n_documents]`` texts and
    ``scores: [n_documents]`` float teacher scores, position by position."""

    query: str
    documents: list[str]
    scores: list[float]


class Pair(NamedTuple):
    """One judged pair of a BEIR split (relevance >= 1): the query text and the document text."""

    query: str
    positive: str


E = TypeVar("E")


class ExampleSet(Generic[E]):
    """The examples of one file, in file order (R-TDATA-8): ``len(s)``, ``iter(s)``, ``s[i]``
    and the tuple ``s.examples``; ``s.path`` is the file they were read from."""

    def __init__(self, path: Path, examples: Sequence[E]) -> None:
        self.path = path
        self.examples: tuple[E, ...] = tuple(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[E]:
        return iter(self.examples)

    def __getitem__(self, i: int) -> E:
        return self.examples[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self.examples)} examples)"


class TripletSet(ExampleSet[Triplet]):
    """The examples of a triplets file (R-TDATA-3, R-TDATA-4)."""

    @property
    def num_negatives(self) -> int:
        """The number of negatives of every example (>= 1)."""
        return len(self.examples[0].documents) - 1


class DistillationSet(ExampleSet[Distilled]):
    """The examples of a distillation file (R-TDATA-5, R-TDATA-6)."""

    @property
    def num_documents(self) -> int:
        """The number of documents (and scores) of every example (>= 1)."""
        return len(self.examples[0].documents)


class PairSet(ExampleSet[Pair]):
    """The judged pairs of a BEIR split (R-TDATA-7)."""


def read_triplets(path: str | os.PathLike[str]) -> TripletSet:
    """The triplets JSONL file ``path``: one object per line with ``query``, ``positive`` and
    either ``negative`` (a string) or ``negatives`` (a non-empty list of strings), read and
    checked whole (R-TDATA-1 to R-TDATA-4). Texts are kept as written."""
    path = _file(path)
    examples: list[Triplet] = []
    first_line = width = 0
    for n, record in jsonl_records(path, "R-TDATA-2"):
        where = f"{path} line {n}"
        query = _text(record, "query", where)
        positive = _text(record, "positive", where)
        negatives = _negatives(record, where)
        if not examples:
            first_line, width = n, len(negatives)
        elif len(negatives) != width:  # R-TDATA-4
            raise InputError(
                f"R-TDATA-4: {where}: {len(negatives)} negatives, but line {first_line} has "
                f"{width}; every example of a file must have the same number of negatives "
                f"(the losses take a rectangular batch)"
            )
        examples.append(Triplet(query, [positive, *negatives]))
    if not examples:
        raise InputError(f"R-TDATA-1: {path}: no example (the file has no non-blank line)")
    return TripletSet(path, examples)


def read_distillation(
    path: str | os.PathLike[str],
    *,
    queries: str | os.PathLike[str] | Mapping[str, str],
    corpus: str | os.PathLike[str] | Mapping[str, str] | Iterable[tuple[str, str]],
) -> DistillationSet:
    """PyLate's distillation JSONL file ``path``: one object per line with ``query_id``,
    ``document_ids`` (a non-empty list of ids) and ``scores`` (as many finite numbers), read and
    checked whole (R-TDATA-5, R-TDATA-6).

    ``queries``: a BEIR ``queries.jsonl`` (or its folder), or a mapping ``{query id: text}``.
    ``corpus``: a BEIR ``corpus.jsonl`` (or its folder, read by ``beir.load_corpus``), a mapping
    ``{doc id: text}``, or an iterable of ``(doc id, text)`` pairs such as
    ``beir.read_jsonl_corpus(path, id_field="document_id")``. The corpus is streamed once and
    only the documents the file names are kept."""
    path = _file(path)
    if isinstance(queries, str | os.PathLike):
        query_texts: Mapping[str, str] = load_queries(queries)
        query_source = str(queries)
    else:
        query_texts, query_source = queries, "the queries given"
    lines: list[tuple[int, str, list[str], list[float]]] = []
    first_use: dict[str, int] = {}  # document id -> first line naming it
    first_line = width = 0
    for n, record in jsonl_records(path, "R-TDATA-2"):
        where = f"{path} line {n}"
        qid = _id(_field(record, "query_id", where, "R-TDATA-5"), "query_id", where)
        doc_ids = _distilled_ids(record, where)
        scores = _scores(record, len(doc_ids), where)
        if not lines:
            first_line, width = n, len(doc_ids)
        elif len(doc_ids) != width:
            raise InputError(
                f"R-TDATA-5: {where}: {len(doc_ids)} documents, but line {first_line} has "
                f"{width}; every example of a file must have the same number of documents "
                f"(the loss takes a rectangular batch)"
            )
        if qid not in query_texts:  # R-TDATA-6
            raise InputError(
                f"R-TDATA-6: {where}: unknown query id {qid!r} (not in {query_source})"
            )
        _nonempty(query_texts[qid], f"query {qid!r}", where, "R-TDATA-6")
        for d in doc_ids:
            first_use.setdefault(d, n)
        lines.append((n, qid, doc_ids, scores))
    if not lines:
        raise InputError(f"R-TDATA-1: {path}: no example (the file has no non-blank line)")
    texts = _documents(corpus, first_use, path, "R-TDATA-6")
    examples = []
    for n, qid, doc_ids, scores in lines:
        for d in doc_ids:
            _nonempty(texts[d], f"document {d!r}", f"{path} line {n}", "R-TDATA-6")
        examples.append(Distilled(query_texts[qid], [texts[d] for d in doc_ids], scores))
    return DistillationSet(path, examples)


def read_beir_pairs(folder: str | os.PathLike[str], split: str = "train") -> PairSet:
    """Every judged pair (relevance >= 1) of the BEIR folder's ``qrels/<split>.tsv`` as
    ``Pair(query text, document text)``, in qrels file order, with texts from ``queries.jsonl``
    and ``corpus.jsonl`` (R-TDATA-7). These are positives only: mined hard negatives come as a
    triplets file written by ``lateint mine`` (``read_triplets``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"R-BEIR-1: no such folder: {folder}")
    qrels = qrels_file(folder, split)
    queries = load_queries(folder / "queries.jsonl")
    judged: list[tuple[int, str, str]] = []
    first_use: dict[str, int] = {}  # every judged document id, relevant or not -> first line
    for n, qid, did, relevance in iter_qrels(qrels):
        where = f"{qrels} line {n}"
        if qid not in queries:  # R-TDATA-7
            raise InputError(
                f"R-TDATA-7: {where}: unknown query id {qid!r} (not in {folder / 'queries.jsonl'})"
            )
        first_use.setdefault(did, n)
        if relevance >= 1:
            _nonempty(queries[qid], f"query {qid!r}", where, "R-TDATA-7")
            judged.append((n, qid, did))
    if not judged:
        raise InputError(f"R-TDATA-1: {qrels}: no example (no judged pair with relevance >= 1)")
    texts = _documents(folder / "corpus.jsonl", first_use, qrels, "R-TDATA-7")
    examples = []
    for n, qid, did in judged:
        _nonempty(texts[did], f"document {did!r}", f"{qrels} line {n}", "R-TDATA-7")
        examples.append(Pair(queries[qid], texts[did]))
    return PairSet(qrels, examples)


def batches(
    n: int, batch_size: int, seed: int, epoch: int, *, drop_last: bool = False
) -> list[list[int]]:
    """The example indices of one epoch in batches (R-TDATA-9): the permutation
    ``numpy.random.default_rng([seed, epoch]).permutation(n)`` cut into consecutive runs of
    ``batch_size``; the last run is shorter unless ``drop_last``, which drops it. The same
    arguments give the same batches on every run."""
    n = _checks.integer(n, "n", "R-TDATA-9", 0)
    batch_size = _checks.positive(batch_size, "batch_size", "R-TDATA-9")
    seed = _checks.integer(seed, "seed", "R-TDATA-9", 0)
    epoch = _checks.integer(epoch, "epoch", "R-TDATA-9", 0)
    drop_last = _checks.flag(drop_last, "drop_last", "R-TDATA-9")
    order = np.random.default_rng([seed, epoch]).permutation(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i : i + batch_size].tolist() for i in range(0, stop, batch_size)]


def _file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path``; a missing file raises ``FileNotFoundError`` (R-TDATA-1)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"R-TDATA-1: no such file: {path}")
    return path


def _field(record: dict[str, Any], field: str, where: str, rule: str) -> Any:
    if field not in record:
        raise InputError(f"{rule}: {where}: missing field {field!r}")
    return record[field]


def _nonempty(text: Any, what: str, where: str, rule: str) -> str:
    """``text`` if it is a string with a character other than whitespace."""
    if not isinstance(text, str):
        raise InputError(f"{rule}: {where}: {what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{rule}: {where}: {what} is empty")
    return text


def _text(record: dict[str, Any], field: str, where: str) -> str:
    """The non-empty string ``record[field]`` of a triplet (R-TDATA-3)."""
    return _nonempty(
        _field(record, field, where, "R-TDATA-3"), f"field {field!r}", where, "R-TDATA-3"
    )


def _negatives(record: dict[str, Any], where: str) -> list[str]:
    """A triplet's ``negative`` as a list of one, or its ``negatives`` (R-TDATA-3)."""
    if "negative" in record and "negatives" in record:
        raise InputError(f"R-TDATA-3: {where}: has both 'negative' and 'negatives'; give one")
    if "negative" in record:
        return [_text(record, "negative", where)]
    if "negatives" not in record:
        raise InputError(f"R-TDATA-3: {where}: missing field 'negative' or 'negatives'")
    values = record["negatives"]
    if not isinstance(values, list):
        raise InputError(
            f"R-TDATA-3: {where}: field 'negatives' must be a list of strings, got "
            f"{type(values).__name__}"
        )
    if not values:
        raise InputError(f"R-TDATA-3: {where}: field 'negatives' is an empty list")
    return [_nonempty(v, f"negatives[{i}]", where, "R-TDATA-3") for i, v in enumerate(values)]


def _id(value: Any, what: str, where: str) -> str:
    """An id of a distillation line: a non-empty string, or an integer read as its decimal text
    (R-TDATA-5, as R-BEIR-3)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise InputError(
            f"R-TDATA-5: {where}: {what} must be a non-empty string or an integer, got {value!r}"
        )
    return value


def _distilled_ids(record: dict[str, Any], where: str) -> list[str]:
    """The ``document_ids`` of a distillation line: a non-empty list of distinct ids."""
    values = _field(record, "document_ids", where, "R-TDATA-5")
    if not isinstance(values, list):
        raise InputError(
            f"R-TDATA-5: {where}: field 'document_ids' must be a list of ids, got "
            f"{type(values).__name__}"
        )
    if not values:
        raise InputError(f"R-TDATA-5: {where}: field 'document_ids' is an empty list")
    ids = [_id(v, f"document_ids[{i}]", where) for i, v in enumerate(values)]
    seen: set[str] = set()
    for d in ids:
        if d in seen:
            raise InputError(f"R-TDATA-5: {where}: document id {d!r} appears twice")
        seen.add(d)
    return ids


def _scores(record: dict[str, Any], n_ids: int, where: str) -> list[float]:
    """The ``scores`` of a distillation line: ``n_ids`` finite numbers, as floats."""
    values = _field(record, "scores", where, "R-TDATA-5")
    if not isinstance(values, list):
        raise InputError(
            f"R-TDATA-5: {where}: field 'scores' must be a list of numbers, got "
            f"{type(values).__name__}"
        )
    if len(values) != n_ids:
        raise InputError(f"R-TDATA-5: {where}: {len(values)} scores for {n_ids} document ids")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InputError(f"R-TDATA-5: {where}: scores[{i}] must be a number, got {v!r}")
        try:
            x = float(v)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x):
            raise InputError(f"R-TDATA-5: {where}: scores[{i}] is not finite: {v!r}")
        out.append(x)
    return out


def _documents(
    corpus: str | os.PathLike[str] | Mapping[str, str] | Iterable[tuple[str, str]],
    first_use: dict[str, int],
    file: Path,
    rule: str,
) -> dict[str, str]:
    """The texts of the documents ``first_use`` names, from one pass over ``corpus``; an id the
    corpus lacks raises ``InputError`` naming ``file`` and the line that first uses it."""
    pairs: Iterable[tuple[str, str]]
    if isinstance(corpus, str | os.PathLike):
        stream = load_corpus(corpus)
        pairs, source = stream, str(stream.path)
    elif isinstance(corpus, Mapping):
        pairs, source = corpus.items(), "the corpus given"
    else:
        pairs, source = corpus, "the corpus given"
    texts = {doc_id: text for doc_id, text in pairs if doc_id in first_use}
    missing = [d for d in first_use if d not in texts]
    if missing:
        d = missing[0]
        raise InputError(
            f"{rule}: {file} line {first_use[d]}: unknown document id {d!r} (not in {source}; "
            f"{len(missing)} unknown in all)"
        )
    return texts
