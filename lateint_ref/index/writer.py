"""Writing an index (spec/index.md): ``create`` builds and commits the first generation (from
an iterator of batches too, spilled to disk as they come, R-INDEX-17),
``append`` commits a new segment coded with the existing codec (R-INDEX-6, R-INDEX-7),
``delete`` tombstones documents and ``compact`` merges the live ones (R-INDEX-10, R-INDEX-12),
``refit`` with a new codec trained on their embeddings (R-INDEX-19).
They check their arguments here, once, then hand them to the native writer, which reports to
a ``Progress`` callback on this thread and stops, committing nothing, when it or a signal handler
raises (R-INDEX-8); the reader (``reader.Index``) reopens what they committed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from lateint_ref import _checks, _native
from lateint_ref.errors import InputError
from lateint_ref.index.lock import retrying
from lateint_ref.progress import Progress
from lateint_ref.scoring.packing import pack_documents

DEFAULT_KMEANS_ITERS = 4
MAX_KMEANS_ITERS = 1000
# Tokens per segment of a streamed build (R-INDEX-17): 128 MiB of floats at dim 128.
DEFAULT_SEGMENT_TOKENS = 1 << 18


def external_ids(ids: Any, n_docs: int) -> np.ndarray | list[str]:
    """External ids (R-INDEX-5): ``0..n_docs`` by default, else all ints or all strings."""
    if ids is None:
        return np.arange(n_docs, dtype=np.int64)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray, range)):
        raise InputError(f"R-INDEX-5: ids must be a sequence of ints or of strings, got {ids!r}")
    items = list(ids)
    if len(items) != n_docs:
        raise InputError(f"R-INDEX-5: {len(items)} ids for {n_docs} documents")
    if all(isinstance(x, str) for x in items):
        for x in items:
            try:
                x.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"R-INDEX-5: id {x!r} is not valid Unicode text: {exc}") from exc
        return items
    ints = [_checks.is_int(x) for x in items]
    if not all(ints):
        bad = items[ints.index(False)]
        raise InputError(f"R-INDEX-5: ids must be all ints or all strings, got {bad!r}")
    values = [int(x) for x in items]
    if any(not -(2**63) <= v < 2**63 for v in values):
        raise InputError("R-INDEX-5: integer ids must fit in int64")
    return np.asarray(values, dtype=np.int64)


def _metadata(metadata: dict[str, Any] | None) -> str:
    """The caller's metadata as canonical JSON text (R-INDEX-4)."""
    try:
        text = json.dumps({} if metadata is None else metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"R-INDEX-4: metadata must be JSON-serialisable: {exc}") from exc
    if not isinstance(json.loads(text), dict):
        raise InputError(f"R-INDEX-4: metadata must be a dict, got {metadata!r}")
    return text


def create(
    path: str | os.PathLike[str],
    documents: Any,
    ids: Any = None,
    *,
    nbits: int = 2,
    seed: int = 0,
    n_centroids: int | None = None,
    sample: int | None = None,
    kmeans_iters: int = DEFAULT_KMEANS_ITERS,
    metadata: dict[str, Any] | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = 0,
    segment_tokens: int = DEFAULT_SEGMENT_TOKENS,
    centroids_for: Callable[[int, int], int] | None = None,
    codec: str | os.PathLike[str] | None = None,
) -> None:
    """Builds and commits generation 1 of an index at ``path`` (see ``Index.create``).
    ``centroids_for(n_docs, n_tokens)``: from an iterator, ``K`` given what it held, instead of
    ``n_centroids`` (the retriever's codec sample stands for a larger collection, R-RET-8).
    ``codec``: an index folder or a codec file whose codec is copied, not trained (R-INDEX-20)."""
    wait = _checks.lock_timeout(lock_timeout)
    if codec is not None:
        trained = {
            "nbits": nbits != 2,
            "seed": seed != 0,
            "n_centroids": n_centroids is not None,
            "sample": sample is not None,
            "kmeans_iters": kmeans_iters != DEFAULT_KMEANS_ITERS,
            "metadata": metadata is not None,
        }
        given = [name for name, changed in trained.items() if changed]
        if given:
            raise InputError(f"R-INDEX-20: {given[0]} given with codec: the codec records it")
        if isinstance(documents, Iterator):
            raise InputError("R-INDEX-20: codec needs documents in memory, not an iterator")
        _create_with_codec(path, documents, ids, os.fspath(codec), threads, progress, wait)
        return
    if isinstance(documents, Iterator):
        _create_streamed(
            path,
            documents,
            ids,
            nbits=nbits,
            seed=seed,
            n_centroids=n_centroids,
            sample=sample,
            kmeans_iters=kmeans_iters,
            metadata=metadata,
            threads=threads,
            progress=progress,
            wait=wait,
            segment_tokens=segment_tokens,
            centroids_for=centroids_for,
        )
        return
    _checks.integer(segment_tokens, "segment_tokens", "R-INDEX-17", 1, 2**62)
    vectors, offsets = pack_documents(documents)
    n_docs = len(offsets) - 1
    if n_docs == 0:
        raise InputError("R-INDEX-5: an index needs at least one document")
    ext_ids = external_ids(ids, n_docs)
    nbits = _checks.integer(nbits, "nbits", "R-QUANT-1", 1, 4)
    seed = _checks.integer(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
    n_centroids = _checks.optional_integer(n_centroids, "n_centroids", "R-KMEANS-1", 1, 2**62)
    sample = _checks.optional_integer(sample, "sample", "R-KMEANS-1", 1, 2**62)
    iters = _checks.integer(kmeans_iters, "kmeans_iters", "R-KMEANS-1", 0, MAX_KMEANS_ITERS)
    meta = _metadata(metadata)
    n_threads = _checks.threads(threads)
    report = Progress("building index", progress)
    try:
        retrying(
            lambda: _native.build_index(
                os.fspath(path),
                vectors,
                offsets,
                ext_ids,
                nbits,
                seed,
                n_centroids,
                sample,
                iters,
                meta,
                n_threads,
                report,
            ),
            wait,
        )
    finally:
        report.close()


def _create_with_codec(
    path: str | os.PathLike[str],
    documents: Any,
    ids: Any,
    codec: str,
    threads: int | None,
    progress: bool | None,
    wait: float | None,
) -> None:
    """``create`` with the codec of ``codec`` (an index folder or a codec file), copied byte for
    byte (R-INDEX-20)."""
    vectors, offsets = pack_documents(documents)
    n_docs = len(offsets) - 1
    if n_docs == 0:
        raise InputError("R-INDEX-5: an index needs at least one document")
    ext_ids = external_ids(ids, n_docs)
    if not os.path.exists(codec):
        raise FileNotFoundError(f"R-INDEX-20: no codec at {codec}")
    n_threads = _checks.threads(threads)
    report = Progress("building index", progress)
    try:
        retrying(
            lambda: _native.build_index_with_codec(
                os.fspath(path), vectors, offsets, ext_ids, codec, n_threads, report
            ),
            wait,
        )
    finally:
        report.close()


def codec_sample(
    n_tokens: int, *, seed: int = 0, n_centroids: int | None = None, sample: int | None = None
) -> tuple[int, np.ndarray]:
    """``(K, tokens)``: the number of centroids (R-KMEANS-1) and the ``[S] int64`` numbers, in
    sample order, of the tokens whose rows train the codec of a collection of ``n_tokens``
    tokens numbered in collection order from 0 (R-KMEANS-2, R-INDEX-20)."""
    n_tokens = _checks.integer(n_tokens, "n_tokens", "R-KMEANS-1", 1, 2**62)
    seed = _checks.integer(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
    n_centroids = _checks.optional_integer(n_centroids, "n_centroids", "R-KMEANS-1", 1, 2**62)
    sample = _checks.optional_integer(sample, "sample", "R-KMEANS-1", 1, 2**62)
    return _native.codec_sample(n_tokens, n_centroids, sample, seed)


def fit_codec(
    path: str | os.PathLike[str],
    rows: Any,
    n_tokens: int,
    *,
    nbits: int = 2,
    seed: int = 0,
    n_centroids: int | None = None,
    sample: int | None = None,
    kmeans_iters: int = DEFAULT_KMEANS_ITERS,
    metadata: dict[str, Any] | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> None:
    """Writes the codec file ``path`` (R-INDEX-4) of a collection of ``n_tokens`` tokens from
    ``rows``, ``[S, dim] float32``, the rows of the tokens ``codec_sample`` names, in its order:
    byte for byte the codec ``Index.create`` trains on the whole collection with the same
    parameters (R-INDEX-20)."""
    n_tokens = _checks.integer(n_tokens, "n_tokens", "R-KMEANS-1", 1, 2**62)
    matrix = np.ascontiguousarray(rows, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InputError(f"R-INDEX-20: rows must be [S, dim] floats, got shape {matrix.shape}")
    nbits = _checks.integer(nbits, "nbits", "R-QUANT-1", 1, 4)
    seed = _checks.integer(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
    n_centroids = _checks.optional_integer(n_centroids, "n_centroids", "R-KMEANS-1", 1, 2**62)
    sample = _checks.optional_integer(sample, "sample", "R-KMEANS-1", 1, 2**62)
    iters = _checks.integer(kmeans_iters, "kmeans_iters", "R-KMEANS-1", 0, MAX_KMEANS_ITERS)
    meta = _metadata(metadata)
    n_threads = _checks.threads(threads)
    report = Progress("fitting codec", progress)
    try:
        _native.train_codec(
            os.fspath(path),
            matrix,
            n_tokens,
            nbits,
            seed,
            n_centroids,
            sample,
            iters,
            meta,
            n_threads,
            report,
        )
    finally:
        report.close()


def _create_streamed(
    path: str | os.PathLike[str],
    batches: Iterator[Any],
    ids: Any,
    *,
    nbits: int,
    seed: int,
    n_centroids: int | None,
    sample: int | None,
    kmeans_iters: int,
    metadata: dict[str, Any] | None,
    threads: int | None,
    progress: bool | None,
    wait: float | None,
    segment_tokens: int,
    centroids_for: Callable[[int, int], int] | None = None,
) -> None:
    """``create`` from an iterator of batches of documents (R-INDEX-17): the arguments checked,
    the writer's lock taken, then each batch packed and appended to the spill file in the index
    folder (one batch in memory at a time), then the native build from that file. Whatever stops
    it (a bad batch, an error of the iterator, Ctrl-C, a progress error) removes what it wrote."""
    nbits = _checks.integer(nbits, "nbits", "R-QUANT-1", 1, 4)
    seed = _checks.integer(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
    n_centroids = _checks.optional_integer(n_centroids, "n_centroids", "R-KMEANS-1", 1, 2**62)
    sample = _checks.optional_integer(sample, "sample", "R-KMEANS-1", 1, 2**62)
    iters = _checks.integer(kmeans_iters, "kmeans_iters", "R-KMEANS-1", 0, MAX_KMEANS_ITERS)
    meta = _metadata(metadata)
    n_threads = _checks.threads(threads)
    segment_tokens = _checks.integer(segment_tokens, "segment_tokens", "R-INDEX-17", 1, 2**62)
    given: np.ndarray | list[str] | None = None
    if ids is not None:  # checked before the stream is read; their count after it
        items = list(ids) if isinstance(ids, Iterator) else ids
        n_ids = len(items) if isinstance(items, (Sequence, np.ndarray, range)) else 0
        given = external_ids(items, n_ids)
    report = Progress("building index", progress)
    spill = retrying(lambda: _native.IndexSpill(os.fspath(path)), wait)
    try:
        for b, batch in enumerate(batches):
            try:
                vectors, offsets = pack_documents(batch)
                if len(offsets) > 1:
                    spill.push(vectors, offsets)
            except InputError as exc:
                raise InputError(f"{exc} (batch {b} of the stream, R-INDEX-17)") from exc
            report("reading", spill.n_tokens, None)
        n_docs = spill.n_docs
        if n_docs == 0:
            raise InputError("R-INDEX-5: an index needs at least one document")
        if given is None:
            ext_ids: np.ndarray | list[str] = np.arange(n_docs, dtype=np.int64)
        elif len(given) != n_docs:
            raise InputError(f"R-INDEX-5: {len(given)} ids for {n_docs} documents")
        else:
            ext_ids = given
        if centroids_for is not None:
            n_centroids = centroids_for(n_docs, spill.n_tokens)
        spill.build(
            ext_ids,
            nbits,
            seed,
            n_centroids,
            sample,
            iters,
            meta,
            segment_tokens,
            n_threads,
            report,
        )
    finally:
        spill.close()
        report.close()


def append(
    path: str | os.PathLike[str],
    documents: Any,
    ids: Any,
    existing: list[Any],
    *,
    upsert: bool = False,
    threads: int | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = 0,
) -> None:
    """Commits ``documents`` as a new segment of the index at ``path`` (see ``Index.add``);
    ``existing``: the ids the index holds, for the default ids; ``upsert``: replace the live
    documents of the same ids in the same commit (R-INDEX-11)."""
    upsert = _checks.flag(upsert, "upsert", "R-INDEX-11")
    wait = _checks.lock_timeout(lock_timeout)
    vectors, offsets = pack_documents(documents)
    n_docs = len(offsets) - 1
    if n_docs == 0:
        raise InputError("R-INDEX-5: add needs at least one document")
    if ids is None:
        if existing and not isinstance(existing[0], int):
            raise InputError("R-INDEX-5: this index has string ids: pass ids to add")
        start = max(existing) + 1 if existing else 0
        ids = range(start, start + n_docs)
    ext_ids = external_ids(ids, n_docs)
    n_threads = _checks.threads(threads)
    report = Progress("adding to index", progress)
    try:
        retrying(
            lambda: _native.append_index(
                os.fspath(path), vectors, offsets, ext_ids, n_threads, report, upsert
            ),
            wait,
        )
    finally:
        report.close()


def delete(path: str | os.PathLike[str], ids: Any, *, lock_timeout: float | None = 0) -> int:
    """Tombstones the live documents of ``ids`` in one commit (see ``Index.delete``)."""
    wait = _checks.lock_timeout(lock_timeout)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray, range)):
        raise InputError(f"R-INDEX-10: ids must be a sequence of ints or of strings, got {ids!r}")
    items = list(ids)
    if not items:
        return 0
    ext_ids = external_ids(items, len(items))
    return retrying(lambda: _native.delete_index(os.fspath(path), ext_ids), wait)


def compact(
    path: str | os.PathLike[str],
    *,
    threads: int | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = 0,
) -> int:
    """Merges the live documents into one segment in one commit (see ``Index.compact``)."""
    wait = _checks.lock_timeout(lock_timeout)
    n_threads = _checks.threads(threads)
    report = Progress("compacting index", progress)
    try:
        return retrying(lambda: _native.compact_index(os.fspath(path), n_threads, report), wait)
    finally:
        report.close()


def refit(
    path: str | os.PathLike[str],
    documents: Any,
    *,
    nbits: int | None = None,
    seed: int | None = None,
    n_centroids: int | None = None,
    sample: int | None = None,
    kmeans_iters: int | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = 0,
) -> None:
    """Compacts with a new codec trained on ``documents``, the embeddings of the live documents
    in ``live_ids`` order (see ``Index.compact``, R-INDEX-19). Each training parameter left None
    takes its default: ``nbits``, ``seed`` and ``kmeans_iters`` the current codec's,
    ``n_centroids`` and ``sample`` by R-KMEANS-1."""
    wait = _checks.lock_timeout(lock_timeout)
    if isinstance(documents, (Sequence, np.ndarray)) and len(documents) == 0:
        raise InputError("R-INDEX-19: no documents given: a refit needs the live documents")
    vectors, offsets = pack_documents(documents)
    nbits = _checks.optional_integer(nbits, "nbits", "R-QUANT-1", 1, 4)
    seed = _checks.optional_integer(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
    n_centroids = _checks.optional_integer(n_centroids, "n_centroids", "R-KMEANS-1", 1, 2**62)
    sample = _checks.optional_integer(sample, "sample", "R-KMEANS-1", 1, 2**62)
    iters = _checks.optional_integer(
        kmeans_iters, "kmeans_iters", "R-KMEANS-1", 0, MAX_KMEANS_ITERS
    )
    n_threads = _checks.threads(threads)
    report = Progress("refitting index", progress)
    try:
        retrying(
            lambda: _native.refit_index(
                os.fspath(path),
                vectors,
                offsets,
                nbits,
                seed,
                n_centroids,
                sample,
                iters,
                n_threads,
                report,
            ),
            wait,
        )
    finally:
        report.close()


def is_uncommitted(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder an index can be created into: empty, or holding only what a
    first commit that did not happen left (R-INDEX-13)."""
    return _native.is_uncommitted_dir(os.fspath(path))
