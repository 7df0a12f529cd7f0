"""The command line's sharded index (spec/distributed.md R-DIST-6): ``lateint index --shards N
--ray ADDRESS`` encodes each shard's texts on a worker (a Ray task, or here) and builds the
sharded index with the codec of the whole collection; ``lateint search`` on a sharded folder
encodes the queries with the model the manifest records."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.distributed import layout
from lateint_ref.distributed.assign import group
from lateint_ref.distributed.pool import run_tasks
from lateint_ref.distributed.sharded import Answer, ShardedIndex
from lateint_ref.errors import InputError

FORMAT = "lateint-sharded-retriever/1"


def model_record(
    model_dir: str, *, seed: int, embedding_size: int, projection: str | None
) -> dict[str, Any]:
    """What the manifest records of the model (as spec/retriever.md R-RET-2 records it)."""
    model = Path(model_dir).resolve()
    if not model.is_dir():
        raise InputError(f"R-DIST-6: model folder not found: {model}")
    return {
        "format": FORMAT,
        "model": str(model),
        "seed": seed,
        "embedding_size": embedding_size,
        "projection": projection,
    }


def _encoder(record: dict[str, Any], backend: str, precision: str) -> Any:
    from lateint_ref.retrieval.retriever import load_encoder

    return load_encoder(
        record["model"],
        seed=record["seed"],
        embedding_size=record["embedding_size"],
        backend=backend,
        precision=precision,
        projection=record["projection"],
    )


def encode_texts(
    record: dict[str, Any], backend: str, precision: str, batch_size: int, texts: list[str]
) -> list[np.ndarray]:
    """One worker's part of the build: its shard's texts encoded as documents."""
    encoder = _encoder(record, backend, precision)
    vectors: list[np.ndarray] = encoder.encode(
        texts, is_query=False, batch_size=batch_size, show_progress=False
    )
    return vectors


def build(
    index_dir: str,
    pairs: Iterable[tuple[Any, str]],
    n_shards: int,
    record: dict[str, Any],
    *,
    ray: str,
    batch_size: int,
    nbits: int,
    seed: int,
    backend: str,
    precision: str,
    keep_empty: bool,
) -> tuple[ShardedIndex, dict[str, int]]:
    """Encodes the corpus's documents, each shard's on a worker, then builds the sharded index
    (R-DIST-6) in corpus order; returns it with the counts ``{"added", "empty"}``."""
    ids: list[Any] = []
    texts: list[str] = []
    empty = 0
    for doc_id, text in pairs:
        if not keep_empty and not text.strip():
            empty += 1
            continue
        ids.append(doc_id)
        texts.append(text)
    if not ids:
        raise InputError("R-INDEX-5: the corpus holds no document to index")
    owned = [items for items in group(ids, n_shards) if items]
    parts = run_tasks(
        ray,
        encode_texts,
        [(record, backend, precision, batch_size, [texts[i] for i in items]) for items in owned],
    )
    docs: list[np.ndarray] = [np.zeros(0, np.float32)] * len(ids)
    for items, vectors in zip(owned, parts, strict=True):
        for i, v in zip(items, vectors, strict=True):
            docs[i] = v
    sharded = ShardedIndex.create(
        index_dir, docs, ids, n_shards, ray=ray, nbits=nbits, seed=seed, metadata=record
    )
    return sharded, {"added": len(ids), "empty": empty}


def is_sharded(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sharded index's folder (R-DIST-2)."""
    return layout.is_sharded(path)


def search(
    index_dir: str, texts: list[str], k: int, *, ray: str, backend: str, precision: str
) -> Answer:
    """The ``k`` best documents of each query text over the sharded index (R-DIST-3)."""
    record = layout.read(index_dir).metadata
    if record.get("format") != FORMAT:
        raise InputError(f"R-DIST-6: the sharded index at {index_dir} records no model")
    encoder = _encoder(record, backend, precision)
    vectors = encoder.encode(texts, is_query=True)
    with ShardedIndex.open(index_dir, ray=ray) as sharded:
        return sharded.search(vectors, k)
