"""What the ``lateint`` commands share (spec/cli.md): exit codes, reading corpora and queries,
searching in chunks, and printing results."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lateint_ref.errors import InputError

PROG = "lateint"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
_METRIC_NAMES = {"ndcg": "nDCG", "recall": "Recall", "mrr": "MRR", "map": "MAP"}
_QUERY_CHUNK = 256  # queries encoded and searched per call: bounds memory on large query files
_SNIPPET = 80


def backend(args: argparse.Namespace) -> str:
    return args.backend or ("torch" if has_torch() else "numpy")


def precision(args: argparse.Namespace) -> str:
    """The encoder's precision: ``--precision``, whose default is ``auto`` (R-ENC-13)."""
    return str(args.precision)


def has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def corpus(path: Path, args: argparse.Namespace) -> Any:
    """The ``(id, text)`` pairs of a BEIR folder, a JSONL file or a folder of .txt files
    (R-CLI-6), streamed, decoded with ``--encoding`` and ``--on-bad-text`` (R-CLI-20); its
    ``skipped`` counts the documents that could not be decoded."""
    from lateint_ref.evaluation import beir

    text = {"encoding": args.encoding, "errors": args.on_bad_text}
    if path.is_file():
        return beir.read_jsonl_corpus(path, **text)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if (path / "corpus.jsonl").is_file():
        return beir.load_corpus(path / "corpus.jsonl", **text)
    if any(path.glob("*.txt")):
        return beir.read_text_folder(path, **text)
    raise InputError(f"R-CLI-6: {path}: not a corpus (a folder needs corpus.jsonl or .txt files)")


def index_dir(path: str) -> str:
    """The folder of an existing index, named when missing or a file (R-CLI-4)."""
    if Path(path).exists() and not Path(path).is_dir():
        raise NotADirectoryError(20, "Not a directory", path)
    if not Path(path).is_dir():
        raise FileNotFoundError(2, "No such file or directory", path)
    return path


def read_queries(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` pairs of a queries JSONL file or a BEIR folder's queries.jsonl (R-CLI-8)."""
    from lateint_ref.evaluation import beir

    return list(beir.load_queries(path).items())


Ranking = dict[str, list[tuple[str, float]]]


def read_ids(path: str) -> list[str]:
    """Document ids from a file, one per line, surrounding spaces and blank lines skipped."""
    text = Path(path).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def typed_ids(ids: list[str], index: Any, rule: str) -> list[int] | list[str]:
    """The ids as ``index`` keeps them: integers for an index of integer ids (R-INDEX-5)."""
    if not index.ids or isinstance(index.ids[0], str):
        return ids
    out = []
    for x in ids:
        try:
            out.append(int(x))
        except ValueError:
            raise InputError(f"{rule}: the index has integer ids, got {x!r}") from None
    return out


def search_run(
    r: Any,
    queries: list[tuple[str, str]],
    k: int,
    threads: int | None,
    allow: list[Any] | None = None,
) -> Ranking:
    """``{qid: [(doc_id, score), ...]}`` best first, searched in chunks of queries; only the
    documents of ``allow`` when given (R-ISEARCH-7)."""
    run: Ranking = {}
    for start in range(0, len(queries), _QUERY_CHUNK):
        chunk = queries[start : start + _QUERY_CHUNK]
        for (qid, _), hits in zip(
            chunk, r.search([t for _, t in chunk], k=k, threads=threads, allow=allow), strict=True
        ):
            run[str(qid)] = [(str(d), float(s)) for d, s in zip(hits.ids, hits.scores, strict=True)]
    return run


def write_run(path: str, run: Ranking) -> None:
    from lateint_ref.evaluation import trec

    trec.write_run(path, run, PROG)


def snippet(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _SNIPPET else flat[: _SNIPPET - 3] + "..."


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    return str(value)


def metric_name(metric: str) -> str:
    name, _, cutoff = metric.partition("@")
    return f"{_METRIC_NAMES.get(name, name)}@{cutoff}"
