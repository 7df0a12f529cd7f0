"""``Index``: the on-disk late-interaction index (spec/index.md).

Built once with ``Index.create`` (k-means centroids, residual codes, inverted lists, committed
atomically), opened with ``Index.open`` (every file checked, then memory-mapped) and searched with
``index.search``: candidates from the query tokens' nearest centroids, approximate scores from the
codes, exact MaxSim over the decoded short list. A live index changes by commits: ``add`` (with
``upsert``), ``delete`` (tombstones) and ``compact``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from lateint_ref import _checks, _native
from lateint_ref.errors import IndexFormatError, InputError
from lateint_ref.index import writer
from lateint_ref.index.writer import DEFAULT_KMEANS_ITERS
from lateint_ref.scoring.packing import pack_queries


class Hits(NamedTuple):
    """One query's results, best first: external ids and their float32 scores."""

    ids: list[Any]
    scores: np.ndarray


class Index:
    """An opened index. Use ``Index.create`` or ``Index.open``; both return one."""

    def __init__(self, native: _native.Index, path: str) -> None:
        self._load(native, path)

    def _load(self, native: _native.Index, path: str) -> None:
        """Makes this object the opened commit ``native`` of the index at ``path``; checked
        first, so that an error changes nothing."""
        ids = native.ids()
        codec = os.path.join(path, native.files()[1][0])
        try:
            meta = json.loads(native.metadata)
        except ValueError as exc:
            raise IndexFormatError(f"R-INDEX-4: {codec}: metadata is not JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise IndexFormatError(f"R-INDEX-4: {codec}: metadata is not a JSON object")
        self._native = native
        self.path = path
        self._ids: list[Any] = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        self._deleted: frozenset[int] = frozenset(native.tombstones().tolist())
        self._live: dict[Any, int] | None = None  # live id -> position, made when first needed
        self._metadata: dict[str, Any] = meta

    @classmethod
    def create(
        cls,
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
        segment_tokens: int = writer.DEFAULT_SEGMENT_TOKENS,
        codec: Index | str | os.PathLike[str] | None = None,
    ) -> Index:
        """Builds an index of ``documents`` at ``path`` and opens it.

        Args:
            path: a directory that does not exist yet, or is empty (R-INDEX-6), or holds only
                what a first commit that did not happen left (R-INDEX-13).
            documents: a sequence of ``[n_tokens_j, dim]`` float32 arrays, a packed pair
                ``(vectors, offsets)`` or a ``[n_docs, n_tokens, dim]`` array (R-MAXSIM-3); or
                an iterator (a generator) of batches, each in one of those forms: read one
                batch at a time and spilled to a file in ``path``, so that memory stays bounded
                whatever the collection's size; the same codec as the whole collection at once
                (R-INDEX-17).
            ids: external ids, all ints or all strings, distinct; default ``0..n_docs``.
            nbits: bits per residual component, 1, 2 or 4 (R-QUANT-1).
            seed: seeds the k-means sample (R-KMEANS-2); same seed, same bytes (R-KMEANS-5).
            n_centroids, sample: k-means sizes; default by the rule of R-KMEANS-1.
            kmeans_iters: Lloyd iterations (R-KMEANS-3).
            metadata: a JSON-serialisable dict kept with the index (e.g. the model's name).
            threads: worker threads; None uses every core. The files do not depend on it.
            progress: a progress line on stderr; None shows it when stderr is a terminal.
            lock_timeout: seconds to wait for another writer's lock (R-INDEX-14): 0 raises
                ``IndexLockedError`` at once, None waits as long as it takes.
            segment_tokens: from an iterator, the documents are coded in segments of whole
                documents of at most this many tokens (a longer document alone), committed
                together (R-INDEX-17); search results do not depend on it (R-ISEARCH-8).
            codec: code the documents with this codec instead of training one (R-INDEX-20): an
                opened ``Index`` (the codec of its commit), an index folder or a codec file
                (``fit_codec``, a sharded index's shared codec); copied byte for byte, so that
                indexes of parts of a collection score alike. The training parameters must
                then be left at their defaults, and ``documents`` be in memory.

        Ctrl-C stops the build promptly with ``KeyboardInterrupt`` and leaves ``path`` as it was
        (R-INDEX-8).
        """
        writer.create(
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
            lock_timeout=lock_timeout,
            segment_tokens=segment_tokens,
            codec=codec.codec_path if isinstance(codec, Index) else codec,
        )
        return cls.open(path)

    def add(
        self,
        documents: Any,
        ids: Any = None,
        *,
        upsert: bool = False,
        threads: int | None = None,
        progress: bool | None = None,
        lock_timeout: float | None = 0,
    ) -> Index:
        """Adds ``documents`` as a new segment coded with this index's centroids and buckets,
        commits it atomically (R-INDEX-7) and returns the index reopened. ``ids`` must be of the
        index's kind and not ids of live documents (``InputError`` naming one, nothing changed),
        unless ``upsert=True``: the live documents of those ids are then deleted in the same
        commit (R-INDEX-11). By default, integers following the largest integer id. Ctrl-C stops
        it promptly with ``KeyboardInterrupt``, the index left at its last commit (R-INDEX-8).
        ``lock_timeout``: as ``create`` (R-INDEX-14)."""
        writer.append(
            self.path,
            documents,
            ids,
            self._ids,
            upsert=upsert,
            threads=threads,
            progress=progress,
            lock_timeout=lock_timeout,
        )
        return self._reopened()

    def delete(self, ids: Any, *, lock_timeout: float | None = 0) -> Index:
        """Deletes the live documents of ``ids`` (R-INDEX-10) in one atomic commit and returns
        the index reopened: no later search returns them; positions and the other ids are
        unchanged. An id that no live document has raises ``InputError`` naming it, before any
        change; an empty ``ids`` commits nothing. ``lock_timeout``: as ``create`` (R-INDEX-14)."""
        writer.delete(self.path, ids, lock_timeout=lock_timeout)
        return self._reopened()

    def compact(
        self,
        refit: bool = False,
        documents: Any = None,
        *,
        nbits: int | None = None,
        seed: int | None = None,
        n_centroids: int | None = None,
        sample: int | None = None,
        kmeans_iters: int | None = None,
        threads: int | None = None,
        progress: bool | None = None,
        lock_timeout: float | None = 0,
    ) -> Index:
        """Merges the live documents of every segment into one segment, dropping the deleted
        ones, in one atomic commit (R-INDEX-12), and returns the index reopened. Codes, codec and
        ids are unchanged, so exhaustive results over the live documents are too; positions are
        renumbered. An index opened before keeps searching what it opened. ``lock_timeout``: as
        ``create`` (R-INDEX-14).

        With ``refit=True`` (R-INDEX-19), ``documents`` are the embeddings of the live documents
        in ``live_ids`` order (any form ``create`` accepts): a new codec is trained on them as
        ``create`` trains one, and they are coded into one segment, committed with it alone in
        one commit, ids unchanged. ``nbits``, ``seed`` and ``kmeans_iters`` default to the
        current codec's, ``n_centroids`` and ``sample`` to R-KMEANS-1's rule for the new size;
        ``create`` of the same documents, ids and parameters gives the same codec and segment.
        A wrong number of documents or dimension raises ``InputError`` before any change."""
        refit = _checks.flag(refit, "refit", "R-INDEX-19")
        training = {
            "nbits": nbits,
            "seed": seed,
            "n_centroids": n_centroids,
            "sample": sample,
            "kmeans_iters": kmeans_iters,
        }
        if not refit:
            given = [name for name, v in training.items() if v is not None]
            if documents is not None or given:
                what = "documents" if documents is not None else given[0]
                raise InputError(f"R-INDEX-19: {what} given without refit=True")
            writer.compact(self.path, threads=threads, progress=progress, lock_timeout=lock_timeout)
            return self._reopened()
        if documents is None:
            raise InputError(
                "R-INDEX-19: refit=True needs documents: the embeddings of the live documents"
            )
        writer.refit(
            self.path,
            documents,
            nbits=nbits,
            seed=seed,
            n_centroids=n_centroids,
            sample=sample,
            kmeans_iters=kmeans_iters,
            threads=threads,
            progress=progress,
            lock_timeout=lock_timeout,
        )
        return self._reopened()

    codec_sample = staticmethod(writer.codec_sample)
    fit_codec = staticmethod(writer.fit_codec)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Index:
        """Opens the index at ``path``, checking every file (R-INDEX-2)."""
        where = os.fspath(path)
        if not os.path.isdir(where):  # R-INDEX-2: the message names the folder, not MANIFEST
            what = "is a file, not an index folder" if os.path.exists(where) else "no such folder"
            raise IndexFormatError(f"R-INDEX-2: {where}: {what}")
        return cls(_native.Index(where), where)

    def refresh(self) -> bool:
        """Opens the index's latest commit in place if it is newer than the one this object
        searches (R-INDEX-15); returns whether it was. Until then, searches keep seeing the
        commit opened, whatever writers commit meanwhile. The check reads the manifest alone; a
        newer commit is opened and checked as ``Index.open`` does, the segments this object has
        already checked reused (``IndexFormatError`` leaves this object on its commit). Not to
        be called while another thread searches this object."""
        if _native.committed_generation(self.path) == self.generation:
            return False
        self._load(self._native.reopen(), self.path)
        return True

    def _reopened(self) -> Index:
        """A new ``Index`` of the latest commit, opened as ``Index.open`` does but reusing the
        segments this one has already checked and mapped (R-INDEX-16): committed files are never
        rewritten, so only the new ones are read."""
        return type(self)(self._native.reopen(), self.path)

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return (
            f"Index({self.path!r}, n_docs={len(self)}, n_live={self.n_live}, "
            f"n_tokens={self.n_tokens}, dim={self.dim}, "
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
    def ids(self) -> list[Any]:
        """External ids in position order, deleted documents' included (``live_ids``: the
        others only)."""
        return list(self._ids)

    @property
    def n_live(self) -> int:
        """Documents not deleted (R-INDEX-9)."""
        return self._native.n_live

    @property
    def deleted(self) -> list[int]:
        """The positions of the deleted documents, increasing (R-INDEX-9)."""
        return sorted(self._deleted)

    @property
    def live_ids(self) -> list[Any]:
        """External ids of the live documents, in position order."""
        return [x for p, x in enumerate(self._ids) if p not in self._deleted]

    def _positions(self) -> dict[Any, int]:
        if self._live is None:
            self._live = {x: p for p, x in enumerate(self._ids) if p not in self._deleted}
        return self._live

    def _allowed(self, allow: Any) -> np.ndarray:
        """R-ISEARCH-7: the live positions of the ids of ``allow``; ids no live document has
        are ignored, ids of the other kind raise ``InputError``."""
        if isinstance(allow, (str, bytes)) or not isinstance(allow, (Iterable, np.ndarray)):
            raise InputError(f"R-ISEARCH-7: allow must be a collection of ids, got {allow!r}")
        items = list(allow)
        want_str = bool(self._ids) and isinstance(self._ids[0], str)
        bad = [  # a list, not next(..., None): None itself is a bad id
            x
            for x in items
            if isinstance(x, str) != want_str or (not want_str and not _checks.is_int(x))
        ]
        if bad:
            kind = "strings" if want_str else "integers"
            raise InputError(f"R-ISEARCH-7: this index's ids are {kind}, allow holds {bad[0]!r}")
        live = self._positions()
        found = [
            live[x if want_str else int(x)] for x in items if (x if want_str else int(x)) in live
        ]
        return np.asarray(sorted(set(found)), dtype=np.int64)

    @property
    def metadata(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self._metadata))  # the caller may change it
        return copy

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
    def table(self) -> np.ndarray:
        """``[code_bytes, 256, 8 // nbits] float32``: the values each code byte's value adds to
        the components it holds (R-QUANT-4): bucket values, or product rows (R-QUANT-6)."""
        rows = self._native.table()
        return rows.reshape(-1, 256, rows.shape[1])

    @property
    def format_version(self) -> int:
        """The codec's format version (R-INDEX-4): 4 for every new index."""
        return int(self._native.format_version())

    @property
    def bounds(self) -> np.ndarray:
        """``[dim, 2] float32`` least and greatest residual per component (R-QUANT-5)."""
        return self._native.bounds(0)

    @property
    def codec_path(self) -> str:
        """The path of the codec file of the commit this object searches (R-INDEX-4)."""
        return os.path.join(self.path, self._native.files()[1][0])

    def files(self) -> list[tuple[str, int]]:
        """The committed files and their sizes in bytes, manifest first."""
        return self._native.files()

    def segments(self) -> list[tuple[str, int]]:
        """The segment files and their numbers of documents (deleted ones included), in position
        order (R-INDEX-7)."""
        return self._native.segments()

    def stats(self) -> dict[str, Any]:
        """Sizes: documents (``n_docs`` stored, ``n_live`` and ``n_deleted``), tokens, centroids,
        dim, nbits and bytes on disk (all files); how well the codec fits (R-INDEX-18):
        ``far_threshold`` (the codec's residual norm threshold), ``far_tokens`` and
        ``far_share`` over the stored tokens (deleted documents' included, as ``n_tokens``), and
        per segment ``segments``: ``[{"name", "n_docs", "n_tokens", "far_tokens", "far_share"}]``
        in position order. The far figures are None for an index of format version 1."""
        on_disk = sum(size for _, size in self.files())
        seed, sample, iters = self._native.training
        per_segment = self._native.segment_far()
        segments: list[dict[str, Any]] = [
            {
                "name": name,
                "n_docs": n_docs,
                "n_tokens": n_tokens,
                "far_tokens": far,
                "far_share": None if far is None else far / n_tokens,
            }
            for name, n_docs, n_tokens, far in per_segment
        ]
        counts = [far for _, _, _, far in per_segment]
        far_tokens = None if None in counts else sum(c for c in counts if c is not None)
        return {
            "n_docs": len(self),
            "n_live": self.n_live,
            "n_deleted": len(self) - self.n_live,
            "n_tokens": self.n_tokens,
            "n_centroids": self.n_centroids,
            "dim": self.dim,
            "nbits": self.nbits,
            "bytes_on_disk": on_disk,
            "bytes_per_token": on_disk / max(self.n_tokens, 1),
            "seed": seed,
            "kmeans_sample": sample,
            "kmeans_iters": iters,
            "far_threshold": self._native.far_threshold,
            "far_tokens": far_tokens,
            "far_share": None if far_tokens is None else far_tokens / max(self.n_tokens, 1),
            "segments": segments,
        }

    def search_defaults(self, k: int = 10) -> dict[str, Any]:
        """The parameters a search for ``k`` results uses when none are given (R-ISEARCH-3),
        derived from this index's size: ``{"nprobe", "candidates", "rescore"}``."""
        nprobe, candidates, rescore = self._native.search_defaults(_checks.k(k))
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
        allow: Any = None,
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
            allow: external ids: only these documents may be returned (R-ISEARCH-7). A list of
                at most ``rescore`` live documents is scored exactly (no probing); ids no live
                document has are ignored.

        Deleted documents are never returned (R-ISEARCH-6).

        Returns:
            one ``Hits(ids, scores)`` per query.
        """
        k_native = _checks.k(k)
        # R-ISEARCH-3: nprobe in 1..=K, checked here so that the message names the value given
        nprobe = _checks.optional_integer(nprobe, "nprobe", "R-ISEARCH-3", 1, self.n_centroids)
        candidates, rescore = (
            None if v is None else _checks.clamped(v, name, "R-ISEARCH-3")
            for v, name in ((candidates, "candidates"), (rescore, "rescore"))
        )
        exhaustive = _checks.flag(exhaustive, "exhaustive", "R-ISEARCH-2")
        # R-ISEARCH-3: the budgets never below k; a k reaching the live documents returns them all.
        candidates, rescore = (
            v if v is None or v < 1 else max(v, k_native) for v in (candidates, rescore)
        )
        exhaustive = exhaustive or k_native >= self.n_live
        n_threads = _checks.threads(threads)
        allowed = None if allow is None else self._allowed(allow)
        q_vectors, q_offsets = pack_queries(queries)
        if len(q_offsets) == 1:
            return []
        if allowed is not None and allowed.size == 0:
            return [Hits([], np.zeros(0, np.float32)) for _ in range(len(q_offsets) - 1)]
        pos, scores, offs = self._native.search(
            q_vectors,
            q_offsets,
            k_native,
            nprobe,
            candidates,
            rescore,
            exhaustive,
            n_threads,
            allowed,
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
        p = _checks.integer(position, "position", "R-ISEARCH-5", 0, len(self) - 1)
        return self._native.codes(p)

    def stage_probe(
        self,
        queries: Any,
        *,
        nprobe: int,
        candidates: int,
        keep_bytes: int = 0,
        threads: int | None = None,
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray | None]]:
        """Stage 1 of a search split across the shards of a sharded index (spec/distributed.md
        R-DIST-3): per query, R-ISEARCH-1 steps 1-2 over the live documents with these budgets:
        the ``candidates`` best documents by probe score, best first (ties: lower position), as
        ``(positions [n] int64, probe scores [n] float32)``; and per query its centroid scores
        (``stage_codes`` takes them) for the leading queries whose scores fit in
        ``keep_bytes`` together, None for the others."""
        nprobe = _checks.integer(nprobe, "nprobe", "R-ISEARCH-3", 1, self.n_centroids)
        candidates = _checks.integer(candidates, "candidates", "R-ISEARCH-3", 1)
        candidates = min(candidates, max(len(self), 1))  # more than the documents: all of them
        keep_bytes = _checks.integer(keep_bytes, "keep_bytes", "R-DIST-3", 0)
        q_vectors, q_offsets = pack_queries(queries)
        probe, pos, offs, kept = self._native.shard_probe(
            q_vectors,
            q_offsets,
            nprobe,
            candidates,
            min(keep_bytes, 2**63),
            _checks.threads(threads),
        )
        found = [(pos[a:b], probe[a:b]) for a, b in itertools.pairwise(offs.tolist())]
        return found, kept

    def stage_codes(
        self,
        queries: Any,
        positions: list[Any],
        rescore: int,
        *,
        scores: list[np.ndarray | None] | None = None,
        threads: int | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Stage 2 of a split search (R-DIST-3): per query ``i``, the ``rescore`` best live
        documents among ``positions[i]`` by code score (R-ISEARCH-1 step 3), best first (ties:
        lower position), as ``(positions [n] int64, code scores [n] float32)``; ``scores``: the
        queries' centroid scores from ``stage_probe`` (None, or a None entry: computed again,
        with the same result)."""
        rescore = _checks.integer(rescore, "rescore", "R-ISEARCH-3", 1)
        q_vectors, q_offsets = pack_queries(queries)
        flat, offsets = self._position_lists(positions, len(q_offsets) - 1)
        if scores is not None and not isinstance(scores, (list, tuple)):
            raise InputError(
                f"R-DIST-3: scores must be None or a list, got {type(scores).__name__}"
            )
        given = [None] * (len(q_offsets) - 1) if scores is None else list(scores)
        for s in given:
            if s is not None and not (
                isinstance(s, np.ndarray) and s.dtype == np.float32 and s.ndim == 1
            ):
                raise InputError(
                    "R-DIST-3: centroid scores must be None or the float32 arrays of "
                    f"stage_probe, got {type(s).__name__}"
                )
        given = [None if s is None else np.ascontiguousarray(s) for s in given]
        pos, code, offs = self._native.shard_codes(
            q_vectors, q_offsets, flat, offsets, given, rescore, _checks.threads(threads)
        )
        return [(pos[a:b], code[a:b]) for a, b in itertools.pairwise(offs.tolist())]

    def _position_lists(
        self, positions: list[Any], n_queries: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One list of positions per query (R-DIST-3), flat, with its offsets."""
        if not isinstance(positions, (list, tuple)):
            raise InputError(
                f"R-DIST-3: positions must be a list of one array per query, got "
                f"{type(positions).__name__}"
            )
        if len(positions) != n_queries:
            raise InputError(f"R-DIST-3: {len(positions)} position lists for {n_queries} queries")
        lists = [_positions(p, len(self)) for p in positions]
        flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
        return flat, np.cumsum([0, *(len(x) for x in lists)], dtype=np.int64)

    def stage_rescore(
        self,
        queries: Any,
        positions: list[np.ndarray] | None,
        k: int,
        *,
        threads: int | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Stage 3 of a split search (R-DIST-3): per query ``i``, the ``k`` best live documents
        among ``positions[i]`` (every live document when ``positions`` is None) by exact MaxSim
        over their decoded vectors, best first (ties: lower position), as ``(positions [n]
        int64, scores [n] float32)``."""
        k = _checks.k(k)
        q_vectors, q_offsets = pack_queries(queries)
        n_queries = len(q_offsets) - 1
        flat: np.ndarray | None = None
        offsets: np.ndarray | None = None
        if positions is not None:
            flat, offsets = self._position_lists(positions, n_queries)
        pos, scores, offs = self._native.shard_rescore(
            q_vectors, q_offsets, flat, offsets, k, _checks.threads(threads)
        )
        return [(pos[a:b], scores[a:b]) for a, b in itertools.pairwise(offs.tolist())]


def _positions(x: Any, n_docs: int) -> np.ndarray:
    """One list of document positions for ``stage_rescore`` (R-DIST-3): integers in
    ``0..n_docs``, named as given when not."""
    a = np.asarray(x).reshape(-1)
    if a.size and (a.dtype.kind not in "iu" or int(a.min()) < 0 or int(a.max()) >= n_docs):
        bad = next((v for v in a.tolist() if not (isinstance(v, int) and 0 <= v < n_docs)), a[0])
        raise InputError(
            f"R-DIST-3: positions must be integers in 0..{n_docs}, got {bad!r} ({a.dtype})"
        )
    return a.astype(np.int64)
