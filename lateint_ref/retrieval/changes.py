"""Changes of a retriever's index after its build (spec/retriever.md R-RET-6): adding (or
replacing) documents, deleting them and compacting, under the retriever's writer lock, with the
texts store kept in step. An index
that keeps no texts (``Index.create``'s own) is changed the same way, without texts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lateint_ref.errors import InputError
from lateint_ref.index import Index
from lateint_ref.retrieval import texts as texts_store


def _keeps_texts(path: Path, index: Index) -> bool:
    """Whether the index at ``path`` has a texts store (a retriever's index, R-RET-1)."""
    first = texts_store.segment_generation(index.segments()[0][0])
    name = texts_store.file_name(first)
    return (path / name).exists() or (first == 1 and texts_store.staged(path).exists())


def add(
    index_dir: str | os.PathLike[str],
    ids: list[Any],
    texts: list[str],
    vectors: list[Any],
    *,
    upsert: bool = False,
    threads: int | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = 0,
) -> Index:
    """Adds the documents (their ``[n_tokens_j, dim]`` float32 ``vectors``) as one segment with
    their texts (R-RET-1: written before the commit), replacing the live documents of the same
    ids when ``upsert`` (R-INDEX-11). Returns the index reopened."""
    path = Path(index_dir)
    with texts_store.writer_lock(path, lock_timeout):
        index = Index.open(path)
        texts_store.recover(path, index.generation)
        texts_store.write(path, index.generation + 1, ids, texts)
        return index.add(vectors, ids, upsert=upsert, threads=threads, progress=progress)


def delete(index_dir: str | os.PathLike[str], ids: Any, *, lock_timeout: float | None = 0) -> Index:
    """Deletes the live documents of ``ids`` in one commit (R-INDEX-10); their texts are no
    longer returned from that commit on (the store's files are not rewritten: the texts of a
    deleted document go at the next compaction). Returns the index reopened."""
    path = Path(index_dir)
    with texts_store.writer_lock(path, lock_timeout):
        index = Index.open(path)
        if _keeps_texts(path, index):
            texts_store.recover(path, index.generation)
        return index.delete(ids)


def compact(
    index_dir: str | os.PathLike[str],
    *,
    threads: int | None = None,
    lock_timeout: float | None = 0,
    encode: Callable[[list[str]], list[Any]] | None = None,
    progress: bool | None = None,
) -> Index:
    """Compacts the index (R-INDEX-12). When it keeps texts, the texts of the live documents are
    written first as the file of the new segment's generation (R-RET-1), and the files of the
    segments compacted away are removed after the commit. With ``encode`` (R-RET-6,
    R-INDEX-19), the live documents' stored texts, in ``live_ids`` order, are encoded by it
    (one ``[n_tokens_j, dim]`` float32 array per text) and the index is compacted with a codec
    refitted on those embeddings; an index without texts cannot be refitted so (``InputError``).
    Returns the index reopened."""
    path = Path(index_dir)
    with texts_store.writer_lock(path, lock_timeout):
        index = Index.open(path)
        keeps = _keeps_texts(path, index)
        if encode is not None and not keeps:
            raise InputError(
                f"R-RET-6: the index at {path} keeps no texts: a refit needs the documents' "
                "embeddings (Index.compact(refit=True, documents=...))"
            )
        live_texts: list[str] = []
        if keeps and index.n_live:  # an index of no live document is refused by compact
            texts_store.recover(path, index.generation)
            texts = texts_store.load(path, index)
            live = index.live_ids
            live_texts = [texts[i] for i in live]
            texts_store.write(path, index.generation + 1, live, live_texts)
        if encode is None:
            compacted = index.compact(threads=threads, progress=progress)
        elif not index.n_live:
            raise InputError("R-INDEX-19: every document is deleted: nothing to refit on")
        else:
            vectors = encode(live_texts)
            compacted = index.compact(True, vectors, threads=threads, progress=progress)
        if keeps:
            for name, _ in index.segments():
                generation = texts_store.segment_generation(name)
                (path / texts_store.file_name(generation)).unlink(missing_ok=True)
        return compacted
