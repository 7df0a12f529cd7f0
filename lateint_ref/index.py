"""``Index``: the on-disk late-interaction index (spec/index.md).

Built once with ``Index.create`` (k-means centroids, residual codes, inverted lists, committed
atomically), opened with ``Index.open`` (every file checked, then memory-mapped) and searched with
``index.search``: candidates from the query tokens' nearest centroids, approximate scores from the
codes, exact MaxSim over the decoded short list.
"""

from __future__ import annotations

import itertools
import json
import numbers
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from lateint_ref import _native
from lateint_ref.errors import IndexFormatError, InputError
from lateint_ref.packing import pack_documents, pack_queries
from lateint_ref.progress import Progress
from lateint_ref.scoring import _threads

DEFAULT_KMEANS_ITERS = 4
MAX_KMEANS_ITERS = 1000


class Hits(NamedTuple):
    """One query's results, best first: external ids and their float32 scores."""

    ids: list
    scores: np.ndarray


def _int(x: Any, name: str, rule: str, lo: int, hi: int | None = None) -> int:
    """An integer argument in ``lo..=hi``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise InputError(f"{rule}: {name} must be an integer, got {x!r}")
    if int(x) < lo or (hi is not None and int(x) > hi):
        bound = f"{lo}..={hi}" if hi is not None else f">= {lo}"
        raise InputError(f"{rule}: {name} must be in {bound}, got {x}")
    return int(x)


def _clamped(x: Any, name: str) -> int:
    """An integer search parameter, clamped into i64 for the native checks (R-ISEARCH-3)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise InputError(f"R-ISEARCH-3: {name} must be an integer, got {x!r}")
    return max(min(int(x), 2**62), -(2**62))


def _opt_int(x: Any, name: str, rule: str, lo: int) -> int | None:
    return None if x is None else _int(x, name, rule, lo, 2**62)


def _ids(ids: Any, n_docs: int) -> np.ndarray | list[str]:
    """External ids (R-INDEX-5): ``0..n_docs`` by default, else all ints or all strings."""
    if ids is None:
        return np.arange(n_docs, dtype=np.int64)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray)):
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
    ints = [isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in items]
    if not all(ints):
        bad = items[ints.index(False)]
        raise InputError(f"R-INDEX-5: ids must be all ints or all strings, got {bad!r}")
    values = [int(x) for x in items]
    if any(not -(2**63) <= v < 2**63 for v in values):
        raise InputError("R-INDEX-5: integer ids must fit in int64")
    return np.asarray(values, dtype=np.int64)


class Index:
    """An opened index. Use ``Index.create`` or ``Index.open``; both return one."""

    def __init__(self, native: Any, path: str) -> None:
        self._native = native
        self.path = path
        ids = native.ids()
        self._ids: list = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        codec = os.path.join(path, native.files()[1][0])
        try:
            meta = json.loads(native.metadata)
        except ValueError as exc:
            raise IndexFormatError(f"R-INDEX-4: {codec}: metadata is not JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise IndexFormatError(f"R-INDEX-4: {codec}: metadata is not a JSON object")
        self._metadata: dict = meta

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        documents: Any,
        ids: Any = None,
        *,
        nbits: int = 2,
        seed: int = 0,
        n_centroids: int | None = None,
        sample: int | None = None,
        kmeans_iters: int = DEFAULT_KMEANS_ITERS,
        metadata: dict | None = None,
        threads: int | None = None,
        progress: bool | None = None,
    ) -> Index:
        """Builds an index of ``documents`` at ``path`` and opens it.

        Args:
            path: a directory that does not exist yet, or is empty (R-INDEX-6).
            documents: a sequence of ``[n_tokens_j, dim]`` float32 arrays, a packed pair
                ``(vectors, offsets)`` or a ``[n_docs, n_tokens, dim]`` array (R-MAXSIM-3).
            ids: external ids, all ints or all strings, distinct; default ``0..n_docs``.
            nbits: bits per residual component, 1, 2 or 4 (R-QUANT-1).
            seed: seeds the k-means sample (R-KMEANS-2); same seed, same bytes (R-KMEANS-5).
            n_centroids, sample: k-means sizes; default by the rule of R-KMEANS-1.
            kmeans_iters: Lloyd iterations (R-KMEANS-3).
            metadata: a JSON-serialisable dict kept with the index (e.g. the model's name).
            threads: worker threads; None uses every core. The files do not depend on it.
            progress: a progress line on stderr; None shows it when stderr is a terminal.
        """
        vectors, offsets = pack_documents(documents)
        n_docs = len(offsets) - 1
        if n_docs == 0:
            raise InputError("R-INDEX-5: an index needs at least one document")
        ext_ids = _ids(ids, n_docs)
        nbits = _int(nbits, "nbits", "R-QUANT-1", 1, 4)
        seed = _int(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
        n_centroids = _opt_int(n_centroids, "n_centroids", "R-KMEANS-1", 1)
        sample = _opt_int(sample, "sample", "R-KMEANS-1", 1)
        iters = _int(kmeans_iters, "kmeans_iters", "R-KMEANS-1", 0, MAX_KMEANS_ITERS)
        try:
            meta = json.dumps({} if metadata is None else metadata, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"R-INDEX-4: metadata must be JSON-serialisable: {exc}") from exc
        if not isinstance(json.loads(meta), dict):
            raise InputError(f"R-INDEX-4: metadata must be a dict, got {metadata!r}")
        report = Progress("building index", progress)
        try:
            _native.build_index(
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
                _threads(threads),
                report,
            )
        finally:
            report.close()
        return cls.open(path)

    def add(
        self,
        documents: Any,
        ids: Any = None,
        *,
        threads: int | None = None,
        progress: bool | None = None,
    ) -> Index:
        """Adds ``documents`` as a new segment coded with this index's centroids and buckets,
        commits it atomically (R-INDEX-7) and returns the index reopened. ``ids`` must be new and
        of the index's kind; by default integers following the largest integer id."""
        vectors, offsets = pack_documents(documents)
        n_docs = len(offsets) - 1
        if n_docs == 0:
            raise InputError("R-INDEX-5: add needs at least one document")
        if ids is None:
            if self._ids and not isinstance(self._ids[0], int):
                raise InputError("R-INDEX-5: this index has string ids: pass ids to add")
            start = max(self._ids) + 1 if self._ids else 0
            ids = range(start, start + n_docs)
        ext_ids = _ids(ids, n_docs)
        report = Progress("adding to index", progress)
        try:
            _native.append_index(self.path, vectors, offsets, ext_ids, _threads(threads), report)
        finally:
            report.close()
        return type(self).open(self.path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> Index:
        """Opens the index at ``path``, checking every file (R-INDEX-2)."""
        return cls(_native.Index(os.fspath(path)), os.fspath(path))

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return (
            f"Index({self.path!r}, n_docs={len(self)}, n_tokens={self.n_tokens}, dim={self.dim}, "
            f"nbits={self.nbits}, n_centroids={self.n_centroids})"
        )

    @property
    def generation(self) -> int:
        """The manifest's generation: 1 after ``create``, one more after each ``add``."""
        return self._native.generation

    @property
    def dim(self) -> int:
        return self._native.dim

    @property
    def nbits(self) -> int:
        return self._native.nbits

    @property
    def n_centroids(self) -> int:
        return self._native.n_centroids

    @property
    def n_tokens(self) -> int:
        return self._native.n_tokens

    @property
    def ids(self) -> list:
        """External ids in position order."""
        return list(self._ids)

    @property
    def metadata(self) -> dict:
        return json.loads(json.dumps(self._metadata))  # a copy the caller may change

    @property
    def centroids(self) -> np.ndarray:
        """``[n_centroids, dim] float32``."""
        return self._native.centroids()

    @property
    def cutoffs(self) -> np.ndarray:
        """``[dim, 2**nbits - 1] float32`` bucket cutoffs (R-QUANT-2)."""
        return self._native.cutoffs()

    @property
    def weights(self) -> np.ndarray:
        """``[dim, 2**nbits] float32`` bucket values (R-QUANT-2)."""
        return self._native.weights()

    @property
    def bounds(self) -> np.ndarray:
        """``[dim, 2] float32`` least and greatest residual per component (R-QUANT-5)."""
        return self._native.bounds(0)

    def files(self) -> list[tuple[str, int]]:
        """The committed files and their sizes in bytes, manifest first."""
        return self._native.files()

    def stats(self) -> dict:
        """Sizes: documents, tokens, centroids, dim, nbits and bytes on disk (all files)."""
        on_disk = sum(size for _, size in self.files())
        seed, sample, iters = self._native.training
        return {
            "n_docs": len(self),
            "n_tokens": self.n_tokens,
            "n_centroids": self.n_centroids,
            "dim": self.dim,
            "nbits": self.nbits,
            "bytes_on_disk": on_disk,
            "bytes_per_token": on_disk / max(self.n_tokens, 1),
            "seed": seed,
            "kmeans_sample": sample,
            "kmeans_iters": iters,
        }

    def search_defaults(self, k: int = 10) -> dict:
        """The parameters a search for ``k`` results uses when none are given (R-ISEARCH-3),
        derived from this index's size: ``{"nprobe", "candidates", "rescore"}``."""
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise InputError(f"R-SEARCH-2: k must be an integer >= 1, got {k!r}")
        nprobe, candidates, rescore = self._native.search_defaults(max(min(int(k), 2**62), -1))
        return {"nprobe": nprobe, "candidates": candidates, "rescore": rescore}

    def search(
        self,
        queries: Any,
        k: int = 10,
        *,
        nprobe: int | None = None,
        candidates: int | None = None,
        rescore: int | None = None,
        exhaustive: bool = False,
        threads: int | None = None,
    ) -> list[Hits]:
        """The ``k`` best documents of each query, best first (R-ISEARCH-1).

        Args:
            queries: one ``[q_len, dim]`` array, a ``[n_queries, q_len, dim]`` array or a sequence
                of ``[q_len_i, dim]`` arrays (R-MAXSIM-2).
            k: results per query.
            nprobe: centroids probed per query token (default ``max(8, n_centroids // 512)``,
                at most ``n_centroids``; R-ISEARCH-3).
            candidates: documents kept after probing, scored from their codes (default
                ``max(512, 32 * k, ceil(8 * sqrt(len(index))))``).
            rescore: documents scored exactly over their decoded vectors (default
                ``max(128, 8 * k)``).
            exhaustive: score every document exactly over its decoded vectors (R-ISEARCH-2).
            threads: worker threads for a batch; results do not depend on it.

        Returns:
            one ``Hits(ids, scores)`` per query.
        """
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise InputError(f"R-SEARCH-2: k must be an integer >= 1, got {k!r}")
        nprobe, candidates, rescore = (
            None if v is None else _clamped(v, name)
            for v, name in ((nprobe, "nprobe"), (candidates, "candidates"), (rescore, "rescore"))
        )
        if not isinstance(exhaustive, bool):
            raise InputError(f"R-ISEARCH-2: exhaustive must be True or False, got {exhaustive!r}")
        n_threads = _threads(threads)
        q_vectors, q_offsets = pack_queries(queries)
        if len(q_offsets) == 1:
            return []
        k_native = max(min(int(k), 2**62), -(2**62))
        pos, scores, offs = self._native.search(
            q_vectors,
            q_offsets,
            k_native,
            nprobe,
            candidates,
            rescore,
            exhaustive,
            n_threads,
        )
        ids = self._ids
        return [
            Hits([ids[p] for p in pos[a:b]], scores[a:b])
            for a, b in itertools.pairwise(offs.tolist())
        ]

    def decode(self, positions: Any) -> list[np.ndarray]:
        """Decoded ``[n_tokens, dim] float32`` tokens of the documents at ``positions``, tokens in
        stored order (R-ISEARCH-5)."""
        pos = np.atleast_1d(np.asarray(positions))
        if pos.size == 0 and pos.ndim == 1:
            return []
        if pos.dtype.kind not in "iu" or pos.ndim != 1:
            raise InputError(f"R-ISEARCH-5: positions must be integers, got {positions!r}")
        if pos.size and (pos.min() < 0 or pos.max() >= len(self)):
            raise InputError(f"R-ISEARCH-5: positions must be in 0..{len(self)}")
        vectors, offsets = self._native.decode(pos.astype(np.int64))
        return [vectors[a:b] for a, b in itertools.pairwise(offsets.tolist())]

    def codes(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """Centroid ids ``[n] uint16`` and buckets ``[n, dim] uint8`` of one document."""
        p = _int(position, "position", "R-ISEARCH-5", 0, len(self) - 1)
        return self._native.codes(p)
