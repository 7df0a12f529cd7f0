"""Hard-negative mining with our own index (spec/mining.md): ``mine`` encodes a BEIR corpus,
indexes it with ``Retriever.build``, searches the queries judged in one qrels split and keeps, for
each query, the best hits that are not judged relevant; ``write_triplets`` writes them as
triplets JSONL, the format the training data reader takes::

    {"query": "...", "positive": "...", "negatives": ["...", "...", "..."]}

one line per (query, judged positive) pair, in qrels order, every line with the same number of
negatives.

Cost: one encoding of the corpus dominates (a prebuilt index at ``index_dir`` is reused without
encoding again, R-MINE-4), then one search per judged query. Measured once (torch backend,
all-MiniLM-L6-v2 with a seeded 128-d projection, the 2-core machine shared with other jobs, load
about 2.5): the first 1,000 SciFact documents and the 184 train queries judged only on them (188
pairs, 3 negatives, depth 100) took 238 s wall and 0.98 GB peak RSS; SciFact's whole train split
(5,183 documents, 809 queries, 919 pairs; ``lateint mine``, 2026-12-01, load 3 to 5) took 629 s
wall, 853 s of CPU and 1.8 GB peak RSS.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lateint_ref import _checks
from lateint_ref._files import write_text_atomic
from lateint_ref.errors import InputError

DEFAULT_NEGATIVES = 3
DEFAULT_DEPTH = 100
_QUERY_CHUNK = 256  # queries encoded and searched per call: bounds memory on large splits
FIELDS = ("query", "positive", "negatives")


class Triplets(list[dict[str, Any]]):
    """The mined triplets (a list of ``{"query", "positive", "negatives"}`` dicts) with what was
    left out (R-MINE-5): ``dropped``, the ids of the queries that had fewer than ``n_negatives``
    negatives within ``depth`` hits, and ``dropped_pairs``, their (query, positive) pairs."""

    def __init__(
        self, items: Iterable[dict[str, Any]] = (), dropped: list[str] | None = None
    ) -> None:
        super().__init__(items)
        self.dropped: list[str] = list(dropped or [])
        self.dropped_pairs = 0


def _positives(qrels: dict[str, dict[str, int]], split: str) -> dict[str, list[str]]:
    """Each judged query's relevant documents (relevance >= 1, R-MINE-2), in qrels order."""
    out: dict[str, list[str]] = {}
    for qid, judged in qrels.items():
        relevant = [d for d, rel in judged.items() if rel >= 1]
        if not relevant:
            raise InputError(f"R-MINE-2: query {qid!r} of {split}.tsv has no judged positive")
        out[qid] = relevant
    return out


def _checked_corpus(
    corpus: Iterable[tuple[str, str]], qrels: dict[str, dict[str, int]], split: str
) -> tuple[set[str], set[str]]:
    """One pass over the corpus before anything is encoded (R-MINE-2): every document the split
    judges is in it, and no judged positive is blank; returns its ids and those of its blank
    documents (empty after strip), which are never negatives (R-MINE-3)."""
    ids: set[str] = set()
    blank: set[str] = set()
    for doc_id, text in corpus:
        ids.add(doc_id)
        if not text.strip():
            blank.add(doc_id)
    for qid, judged in qrels.items():
        for doc_id, rel in judged.items():
            if doc_id not in ids:
                raise InputError(
                    f"R-MINE-2: {split}.tsv judges document {doc_id!r} for query {qid!r}, "
                    "which is not in corpus.jsonl"
                )
            if rel >= 1 and doc_id in blank:
                raise InputError(
                    f"R-MINE-2: {split}.tsv judges document {doc_id!r} relevant to query "
                    f"{qid!r}, but its text is empty"
                )
    return ids, blank


def _texts(corpus: Iterable[tuple[str, str]], wanted: set[str]) -> dict[str, str]:
    """The texts of the ``wanted`` documents, in one more pass over the corpus."""
    return {doc_id: text for doc_id, text in corpus if doc_id in wanted}


def _negatives(
    hits: list[Any], positives: set[str], *, n_negatives: int, skip_top: int
) -> list[str]:
    """R-MINE-3: the hits in the index's order, judged positives (and blank documents: the
    ``positives`` set holds both) removed, the first ``skip_top`` of the rest skipped, the next
    ``n_negatives`` kept (fewer when the hits run out)."""
    rest = [str(d) for d in hits if str(d) not in positives]
    return rest[skip_top : skip_top + n_negatives]


def mine(
    dataset_dir: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    *,
    split: str = "train",
    index_dir: str | os.PathLike[str] | None = None,
    n_negatives: int = DEFAULT_NEGATIVES,
    depth: int = DEFAULT_DEPTH,
    skip_top: int = 0,
    seed: int = 0,
    batch_size: int = 32,
    backend: str = "torch",
    precision: str = "float32",
    threads: int | None = None,
    progress: bool | None = None,
    projection: str | None = None,
) -> Triplets:
    """Mines hard negatives for the queries judged in ``dataset_dir/qrels/<split>.tsv``
    (spec/mining.md).

    Args:
        dataset_dir: a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).
        model_dir: the model, loaded as ``Retriever.build`` loads it (R-RET-2).
        split: the qrels split whose queries are mined.
        index_dir: where the index is built (R-MINE-4): an index there built with the same
            model and settings is reused and completed; None builds one in a temporary folder,
            removed on return.
        n_negatives: negatives per triplet, >= 1.
        depth: hits searched per query (``k``), >= ``skip_top + n_negatives``.
        skip_top: non-positive hits skipped at the top of each ranking (likely unjudged
            positives), >= 0.
        seed: the index's k-means seed (and a bare backbone's projection seed, R-RET-2).
        batch_size: documents encoded per batch.
        backend: the encoder backend, ``"torch"`` or ``"numpy"``.
        precision: the encoder's precision (``"auto"``: R-ENC-13).
        threads: worker threads; the result does not depend on it.
        progress: the build's progress reports (as ``Retriever.build``).
        projection: ``"random"`` for a bare backbone (as ``Retriever.build``, R-RET-2).

    Returns:
        the triplets, one ``{"query", "positive", "negatives": [n_negatives texts]}`` per
        (judged query, judged positive) pair in qrels order (R-MINE-1), without the pairs of
        the queries in ``.dropped`` (R-MINE-5).
    """
    from lateint_ref.evaluation import beir
    from lateint_ref.retrieval.retriever import Retriever

    n_negatives = _checks.positive(n_negatives, "n_negatives", "R-MINE-1")
    depth = _checks.positive(depth, "depth", "R-MINE-1")
    skip_top = _checks.integer(skip_top, "skip_top", "R-MINE-1", 0)
    if depth < skip_top + n_negatives:
        raise InputError(
            f"R-MINE-1: depth must be >= skip_top + n_negatives = {skip_top + n_negatives}, "
            f"got {depth}"
        )
    batch_size = _checks.positive(batch_size, "batch_size", "R-MINE-1")
    threads = _checks.threads(threads)

    corpus, queries, qrels = beir.load_dataset(dataset_dir, split)
    if not qrels:
        raise InputError(f"R-MINE-2: {split}.tsv judges no query")
    positives = _positives(qrels, split)
    for qid in qrels:
        if not queries[qid].strip():
            raise InputError(f"R-MINE-2: query {qid!r} of {split}.tsv has an empty text")
    doc_ids, blank = _checked_corpus(corpus, qrels, split)
    n_docs = len(doc_ids)
    most = max(len(p) for p in positives.values())
    if n_docs < most + skip_top + n_negatives:
        raise InputError(
            f"R-MINE-2: the corpus has {n_docs} documents, fewer than a query's {most} positives "
            f"+ skip_top {skip_top} + n_negatives {n_negatives}"
        )

    with contextlib.ExitStack() as stack:
        if index_dir is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="lateint-mine-"))
            path = Path(scratch) / "index"
        else:
            path = Path(index_dir)
        retriever = Retriever.build(
            path,
            model_dir,
            corpus,
            batch_size=batch_size,
            seed=seed,
            backend=backend,
            precision=precision,
            threads=threads,
            progress=progress,
            projection=projection,
        )
        extra = [d for d in retriever.index.ids if str(d) not in doc_ids]
        if extra:  # R-MINE-4: a reused index holds exactly this corpus
            raise InputError(
                f"R-MINE-4: the index at {path} holds {len(extra)} documents that are not in "
                f"the corpus of {dataset_dir}, e.g. {extra[0]!r}"
            )
        order = list(qrels)
        ranked: dict[str, list[str]] = {}
        for start in range(0, len(order), _QUERY_CHUNK):
            chunk = order[start : start + _QUERY_CHUNK]
            found = retriever.search([queries[q] for q in chunk], k=depth, threads=threads)
            for qid, hits in zip(chunk, found, strict=True):
                ranked[qid] = _negatives(
                    hits.ids,
                    set(positives[qid]) | blank,
                    n_negatives=n_negatives,
                    skip_top=skip_top,
                )

    kept = {q: negs for q, negs in ranked.items() if len(negs) == n_negatives}
    wanted = {d for q in kept for d in [*positives[q], *kept[q]]}
    texts = _texts(corpus, wanted)
    out = Triplets(dropped=[q for q in order if q not in kept])
    out.dropped_pairs = sum(len(positives[q]) for q in out.dropped)
    for qid in order:
        if qid not in kept:
            continue
        negatives = [texts[d] for d in kept[qid]]
        for doc_id in positives[qid]:
            out.append({"query": queries[qid], "positive": texts[doc_id], "negatives": negatives})
    if not out:
        raise InputError(
            f"R-MINE-5: no query of {split}.tsv has {n_negatives} negatives within its "
            f"{depth} hits; lower n_negatives or skip_top, or raise depth"
        )
    return out


def _line(n: int, triplet: Any, width: int | None) -> str:
    """One triplet as a JSON line (R-MINE-6), checked."""
    if not isinstance(triplet, dict) or set(triplet) != set(FIELDS):
        raise InputError(f"R-MINE-6: triplet {n} must have exactly the fields {list(FIELDS)}")
    negatives = triplet["negatives"]
    if (
        not isinstance(triplet["query"], str)
        or not isinstance(triplet["positive"], str)
        or not isinstance(negatives, list)
        or not negatives
        or not all(isinstance(t, str) for t in negatives)
    ):
        raise InputError(
            f"R-MINE-6: triplet {n}: query and positive must be texts and negatives a non-empty "
            "list of texts"
        )
    if width is not None and len(negatives) != width:
        raise InputError(
            f"R-MINE-6: triplet {n} has {len(negatives)} negatives, the first one {width}"
        )
    record = {f: triplet[f] for f in FIELDS}
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_triplets(path: str | os.PathLike[str], triplets: Iterable[dict[str, Any]]) -> int:
    """Writes ``triplets`` as triplets JSONL (R-MINE-6), atomically: UTF-8, one
    ``{"query", "positive", "negatives"}`` object per line in that key order, every line with
    the same number of negatives. Returns the number of lines."""
    lines: list[str] = []
    width: int | None = None
    for n, triplet in enumerate(triplets):
        lines.append(_line(n, triplet, width))
        width = len(triplet["negatives"])
    write_text_atomic(path, "".join(lines))
    return len(lines)
