"""One shard's worker (spec/distributed.md R-DIST-3..7): it holds the shard's opened index and
answers the coordinator's calls. The same class runs in this process (local mode) or as a Ray
actor (one per shard); an actor that restarts runs ``__init__`` again, which opens the shard's
last commit (R-DIST-7)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from lateint_ref.distributed import layout
from lateint_ref.errors import IndexFormatError, InputError
from lateint_ref.index import Index

# What stage 2 sends back per query: (positions [n] int64, exact scores [n] float32, ids).
Rescored = tuple[np.ndarray, np.ndarray, list[Any]]


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


class Shard:
    """The worker of one shard: ``Shard(path, codec, codec_sha256)``."""

    def __init__(self, path: str, codec: str, codec_sha256: str) -> None:
        self.path = path
        self.codec = codec
        self.codec_sha256 = codec_sha256
        self.index = _open(path, codec, codec_sha256)

    def info(self) -> dict[str, Any]:
        """``{"n_docs", "n_live", "generation", "n_centroids", "pid"}`` of the commit this
        worker searches."""
        i = self.index
        return {
            "n_docs": 0 if i is None else len(i),
            "n_live": 0 if i is None else i.n_live,
            "generation": 0 if i is None else i.generation,
            "n_centroids": 0 if i is None else i.n_centroids,
            "pid": os.getpid(),
        }

    def wait(self, seconds: float) -> None:
        """Keeps this worker busy for ``seconds``: a slow shard, for a caller's tests of
        ``timeout`` and of a worker killed mid-query (R-DIST-5)."""
        time.sleep(seconds)

    def candidates(
        self, queries: list[np.ndarray], nprobe: int, candidates: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Stage 1 (R-DIST-3): per query, (probe scores, code scores, positions)."""
        if self.index is None or self.index.n_live == 0:
            empty = (np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
            return [empty for _ in queries]
        return self.index.stage_candidates(queries, nprobe=nprobe, candidates=candidates)

    def rescore(
        self, queries: list[np.ndarray], positions: list[np.ndarray] | None, k: int
    ) -> list[Rescored]:
        """Stage 2 (R-DIST-3): per query, its ``k`` best among ``positions`` (every live
        document when None) by exact score, with their ids."""
        if self.index is None or self.index.n_live == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32), []) for _ in queries]
        ids = self.index.ids
        found = self.index.stage_rescore(queries, positions, k)
        return [(pos, scores, [ids[p] for p in pos.tolist()]) for pos, scores in found]

    def not_live(self, ids: list[Any]) -> list[Any]:
        """The ids of ``ids`` that no live document of this shard has (R-DIST-4)."""
        if self.index is None:
            return list(ids)
        live = set(self.index.live_ids)
        return [x for x in ids if x not in live]

    def add(self, documents: Any, ids: list[Any], upsert: bool) -> dict[str, Any]:
        """Adds ``documents`` to this shard in one commit (R-INDEX-7, R-INDEX-11), creating it
        with the shared codec when it holds no document yet (R-INDEX-20, R-DIST-4)."""
        if self.index is None:
            self.index = Index.create(self.path, documents, ids, codec=self.codec, progress=False)
        else:
            self.index = self.index.add(documents, ids, upsert=upsert, progress=False)
        return self.info()

    def delete(self, ids: list[Any]) -> dict[str, Any]:
        """Deletes the live documents of ``ids`` from this shard in one commit (R-INDEX-10)."""
        if self.index is None:
            raise InputError(f"R-INDEX-10: id {ids[0]!r} is not in the index")
        self.index = self.index.delete(ids)
        return self.info()

    def compact(self) -> dict[str, Any]:
        """Compacts this shard (R-INDEX-12); a shard without live documents is left as is."""
        if self.index is not None and self.index.n_live > 0:
            self.index = self.index.compact(progress=False)
        return self.info()
