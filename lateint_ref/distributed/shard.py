"""One shard's worker (spec/distributed.md R-DIST-3..7): it holds the shard's opened index and
answers the coordinator's calls. The same class runs in this process (local mode) or as a Ray
actor (one per shard); an actor that restarts runs ``__init__`` again, which opens the shard's
last commit (R-DIST-7)."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from lateint_ref._files import sync_dir
from lateint_ref.distributed import layout
from lateint_ref.errors import IndexFormatError, InputError
from lateint_ref.index import Index

# What stage 3 sends back per query: (positions [n] int64, exact scores [n] float32, ids).
Rescored = tuple[np.ndarray, np.ndarray, list[Any]]
# What stages 1 and 2 send back per query: (positions [n] int64, scores [n] float32), best first.
Ranked = tuple[np.ndarray, np.ndarray]

# The most bytes of queries' centroid scores a worker keeps between stages 1 and 2 of its
# searches (R-DIST-3): past it, stage 2 computes them again (the same values, more time).
KEEP_BYTES = 256 * 2**20


class Stale:
    """A stage 2 or 3 call that reached a shard after a commit changed it since stage 1 (its
    positions may name other documents): the coordinator runs the search again."""

    def __init__(self, generation: int) -> None:
        self.generation = generation


def _open(path: str, codec: str, codec_sha256: str) -> Index | None:
    """The shard's last commit, or None while it holds no document (an empty folder); its codec
    MUST be the shared one, byte for byte (R-DIST-2). A missing folder is a lost shard."""
    if not os.path.isdir(path):
        raise IndexFormatError(f"R-DIST-2: {path}: the shard's folder is missing")
    if not os.path.exists(os.path.join(path, "MANIFEST")):
        return None
    index = Index.open(path)
    if layout.file_sha256(index.codec_path) != codec_sha256:
        raise IndexFormatError(f"R-DIST-2: {path}: its codec is not the shared codec {codec}")
    return index


def build(path: str, documents: Any, ids: list[Any], codec: str) -> int:
    """Creates shard ``path`` from its documents, coded with the shared codec (R-INDEX-20,
    R-DIST-6); returns its number of documents."""
    Index.create(path, documents, ids, codec=codec, progress=False)
    return len(ids)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _serial(method: _Method) -> _Method:
    """Runs ``method`` holding the worker's lock."""

    @functools.wraps(method)
    def run(self: Shard, *args: Any) -> Any:
        with self._lock:
            return method(self, *args)

    return cast(_Method, run)


class Shard:
    """The worker of shard ``s`` of the sharded index at ``root``: ``Shard(root, s,
    codec_sha256)``. It answers in collection numbers (R-DIST-8), not positions."""

    def __init__(self, root: str, s: int, codec_sha256: str) -> None:
        self.root, self.s = root, s
        self.path = os.path.join(root, layout.shard_name(s))
        self.codec = os.path.join(root, layout.CODEC)
        self.codec_sha256 = codec_sha256
        self.index = _open(self.path, self.codec, codec_sha256)
        self.numbers = self._read_numbers()
        # Centroid scores kept between stages 1 and 2, by the coordinator's token (R-DIST-3).
        # One call at a time per worker (local mode runs calls on threads): a commit never
        # lands in the middle of a search's call, and the index and its numbers change together.
        self._lock = threading.RLock()
        self._kept: OrderedDict[str, list[np.ndarray | None]] = OrderedDict()
        self._held = 0

    def _read_numbers(self) -> np.ndarray:
        if self.index is None:
            return np.zeros(0, np.int64)
        return layout.read_order(self.root, self.s, self.index.generation, len(self.index))

    def _generation(self) -> int:
        return 0 if self.index is None else self.index.generation

    @_serial
    def info(self) -> dict[str, Any]:
        """``{"n_docs", "n_live", "generation", "n_centroids", "next_number", "pid"}`` of the
        commit this worker searches (``next_number``: one more than its last collection
        number, 0 when it holds no document)."""
        i = self.index
        return {
            "n_docs": 0 if i is None else len(i),
            "n_live": 0 if i is None else i.n_live,
            "generation": self._generation(),
            "n_centroids": 0 if i is None else i.n_centroids,
            "next_number": int(self.numbers[-1]) + 1 if len(self.numbers) else 0,
            "pid": os.getpid(),
        }

    def wait(self, seconds: float) -> None:
        """Keeps this worker busy for ``seconds``: a slow shard, for a caller's tests of
        ``timeout`` and of a worker killed mid-query (R-DIST-5)."""
        time.sleep(seconds)

    def _positions(self, numbers: Any) -> np.ndarray:
        """The positions of documents given by collection number (R-DIST-8)."""
        n = np.asarray(numbers, dtype=np.int64).reshape(-1)
        pos = np.searchsorted(self.numbers, n)
        ok = pos < len(self.numbers)
        if not (ok.all() and np.array_equal(self.numbers[pos], n)):
            bad = int(n[~ok][0]) if not ok.all() else int(n[self.numbers[pos] != n][0])
            raise InputError(f"R-DIST-8: shard {self.s} holds no document numbered {bad}")
        return pos

    @_serial
    def probe(
        self, queries: list[np.ndarray], nprobe: int, candidates: int, token: str
    ) -> tuple[int, list[Ranked]]:
        """Stage 1 (R-DIST-3): this shard's generation and, per query, its ``candidates`` best
        documents by probe score, best first; the queries' centroid scores are kept under
        ``token`` for stage 2, within ``KEEP_BYTES`` (the oldest kept first forgotten)."""
        if self.index is None or self.index.n_live == 0:
            empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
            return self._generation(), [empty for _ in queries]
        with self._lock:
            while self._kept and self._held > KEEP_BYTES // 2:
                _, old = self._kept.popitem(last=False)
                self._held -= sum(s.nbytes for s in old if s is not None)
            room = KEEP_BYTES - self._held
        found, scores = self.index.stage_probe(
            queries, nprobe=nprobe, candidates=candidates, keep_bytes=room
        )
        if any(s is not None for s in scores):
            with self._lock:
                self._kept[token] = scores
                self._held += sum(s.nbytes for s in scores if s is not None)
        return self.index.generation, [(self.numbers[pos], p) for pos, p in found]

    @_serial
    def codes(
        self,
        queries: list[np.ndarray],
        numbers: list[np.ndarray],
        rescore: int,
        token: str,
        generation: int,
        k: int | None = None,
    ) -> list[Ranked] | list[Rescored] | Stale:
        """Stage 2 (R-DIST-3): per query, the ``rescore`` best of the documents ``numbers`` by
        code score, best first, from the centroid scores kept under ``token`` (or computed
        again); with ``k``, stage 3 over those at once (the coordinator's choice when one shard
        holds every candidate). ``Stale`` when a commit changed this shard since stage 1."""
        with self._lock:
            scores = self._kept.pop(token, None)
            if scores is not None:
                self._held -= sum(s.nbytes for s in scores if s is not None)
        if self._generation() != generation:
            return Stale(self._generation())
        if self.index is None:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        positions = [self._positions(x) for x in numbers]
        found = self.index.stage_codes(queries, positions, rescore, scores=scores)
        ranked = [(self.numbers[pos], a) for pos, a in found]
        if k is None:
            return ranked
        return self.rescore(queries, [x for x, _ in ranked], k, generation)

    @_serial
    def rescore(
        self,
        queries: list[np.ndarray],
        numbers: list[np.ndarray] | None,
        k: int,
        generation: int | None = None,
    ) -> list[Rescored] | Stale:
        """Stage 3 (R-DIST-3): per query, its ``k`` best among the documents ``numbers`` (every
        live document when None) by exact score, as (collection numbers, scores, ids);
        ``Stale`` when ``generation`` is given and a commit changed this shard since stage 1."""
        if generation is not None and self._generation() != generation:
            return Stale(self._generation())
        if self.index is None or self.index.n_live == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32), []) for _ in queries]
        ids = self.index.ids
        positions = None if numbers is None else [self._positions(x) for x in numbers]
        found = self.index.stage_rescore(queries, positions, k)
        return [
            (self.numbers[pos], scores, [ids[p] for p in pos.tolist()]) for pos, scores in found
        ]

    @_serial
    def not_live(self, ids: list[Any]) -> list[Any]:
        """The ids of ``ids`` that no live document of this shard has (R-DIST-4)."""
        if self.index is None:
            return list(ids)
        live = set(self.index.live_ids)
        return [x for x in ids if x not in live]

    def _commit(self, numbers: np.ndarray, change: Any) -> dict[str, Any]:
        """One commit of this shard (R-DIST-8): the collection numbers of the next generation
        written first, then ``change()`` returning the new index."""
        generation = self._generation() + 1
        layout.write_order(self.root, self.s, generation, numbers)
        index = change()
        if index.generation != generation:  # never by R-INDEX-6; checked, not assumed
            layout.write_order(self.root, self.s, index.generation, numbers)
        self.index, self.numbers = index, np.asarray(numbers, np.int64)
        return self.info()

    @_serial
    def add(
        self, documents: Any, ids: list[Any], upsert: bool, numbers: list[int]
    ) -> dict[str, Any]:
        """Adds ``documents`` with ``ids`` and collection ``numbers`` (above every number this
        shard holds) in one commit (R-INDEX-7, R-INDEX-11, R-DIST-8), creating the shard with
        the shared codec when it holds no document yet (R-INDEX-20, R-DIST-4)."""
        new = np.asarray(numbers, np.int64)
        together = np.concatenate([self.numbers, new])
        if len(new) != len(ids) or np.any(np.diff(together) <= 0):
            raise InputError(f"R-DIST-8: collection numbers {numbers[:3]}... do not follow")
        if self.index is None:
            # No commit: files left by a compaction that emptied this shard and stopped before
            # removing them all (R-DIST-4) go first, so that the shard takes documents again.
            for name in os.listdir(self.path):
                os.remove(os.path.join(self.path, name))
            return self._commit(
                together,
                lambda: Index.create(self.path, documents, ids, codec=self.codec, progress=False),
            )
        index = self.index
        return self._commit(
            together, lambda: index.add(documents, ids, upsert=upsert, progress=False)
        )

    @_serial
    def delete(self, ids: list[Any]) -> dict[str, Any]:
        """Deletes the live documents of ``ids`` from this shard in one commit (R-INDEX-10)."""
        if self.index is None:
            raise InputError(f"R-INDEX-10: id {ids[0]!r} is not in the index")
        index = self.index
        return self._commit(self.numbers, lambda: index.delete(ids))

    @_serial
    def compact(self) -> dict[str, Any]:
        """Compacts this shard (R-INDEX-12), its numbers those of the live documents; a shard
        whose every document is deleted becomes empty (its manifest removed first, then its
        files), as a shard that never held one."""
        index = self.index
        if index is None or index.n_live == len(index):
            return self.info()
        if index.n_live == 0:
            os.remove(os.path.join(self.path, "MANIFEST"))  # the shard is empty from here on
            sync_dir(self.path)
            self.index, self.numbers = None, np.zeros(0, np.int64)
            for name in os.listdir(self.path):
                os.remove(os.path.join(self.path, name))
            return self.info()
        live = np.delete(self.numbers, np.asarray(index.deleted, np.int64))
        return self._commit(live, lambda: index.compact(progress=False))
