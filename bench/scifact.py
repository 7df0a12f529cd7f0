"""SciFact (BEIR layout) for the benchmarks: texts, test judgments and cached token embeddings.

``bench/embeddings.py`` for SciFact under the names the benchmarks have always used: the models
(``pylate-seed0`` by default, ``backbone-seed0``), the cache entry layout and its key are
described there. The cache is by default ``$HOME/.cache/lateint-ref/scifact-minilm128/<key>/``.

Run as a script to fill the cache:
``.venv/bin/python bench/scifact.py [--cache DIR] [--model backbone-seed0|pylate-seed0]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import embeddings
from embeddings import (  # noqa: F401 (re-exported names)
    BATCH,
    DEFAULT_MODEL,
    GOLDEN_MINILM,
    MODELS,
    ROOT,
    Embeddings,
    encoder,
    model_dir,
    pylate_minilm,
)

SCIFACT = embeddings.COLLECTIONS["scifact"]
DATA = SCIFACT.data
DEFAULT_CACHE = SCIFACT.cache


def corpus() -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of every SciFact document, title and text joined as BEIR and PyLate join
    them (``lateint_ref.evaluation.beir``, R-BEIR-4)."""
    return embeddings.corpus(SCIFACT)


def qrels(split: str = "test") -> dict[str, dict[str, int]]:
    """Judgments ``{query id: {document id: relevance}}`` from ``qrels/<split>.tsv``."""
    return embeddings.qrels(SCIFACT, split)


def test_queries() -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of the queries judged in ``qrels/test.tsv``, in ``queries.jsonl`` order."""
    return embeddings.judged_queries(SCIFACT)


def cache_key(model: str) -> str:
    """16 hex digits of SHA-256 over the model name and files, the collection files and the
    encoder settings."""
    return embeddings.cache_key(SCIFACT, model)


def load(
    cache: Path = DEFAULT_CACHE, model: str = DEFAULT_MODEL, *, compute: bool = True
) -> Embeddings:
    """The cache entry for the current model and data, encoding it first when it is missing
    (a few minutes on 2 cores); see ``embeddings.load``."""
    return embeddings.load(SCIFACT, cache, model, compute=compute)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fills the SciFact embedding cache.")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL)
    args = parser.parse_args()
    emb = load(args.cache, args.model)
    print(
        f"{emb.path}: {len(emb.doc_ids)} documents, {len(emb.doc_vectors):,} tokens, "
        f"{len(emb.query_ids)} queries"
    )


if __name__ == "__main__":
    main()
