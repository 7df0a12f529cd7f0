"""``indexes.PLAID``: PyLate's PLAID index over this project's on-disk index (R-PYAPI-5 to
R-PYAPI-8, R-PYAPI-12). The index lives in ``index_folder/index_name``; external ids (strings or
integers) are stored in it (R-INDEX-5): no pickled id maps."""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np

from lateint_ref import _checks
from lateint_ref.errors import InputError
from lateint_ref.index import writer
from lateint_ref.index.reader import Index
from lateint_ref.pylate import embeddings
from lateint_ref.pylate.rank import RerankResult

# PyLate's PLAID arguments that do not change what this index computes (R-PYAPI-5).
IGNORED = ("max_points_per_centroid", "use_triton", "batch_size", "show_progress", "device",
           "low_memory")  # fmt: skip


def _ids(documents_ids: Any, n: int, rule: str) -> list[Any]:
    """PyLate's ids: one string, or a sequence (a range included) of strings or integers."""
    if isinstance(documents_ids, str):
        documents_ids = [documents_ids]
    if isinstance(documents_ids, np.ndarray):
        documents_ids = documents_ids.tolist()
    if isinstance(documents_ids, bytes) or not isinstance(documents_ids, (list, tuple, range)):
        raise InputError(
            f"{rule}: documents_ids must be a string or a list of strings or integers, got "
            f"{documents_ids!r}"
        )
    items = list(documents_ids)
    if n >= 0 and len(items) != n:
        raise InputError(f"{rule}: {len(items)} documents_ids for {n} documents_embeddings")
    return items


class PLAID:
    """PyLate's ``indexes.PLAID`` (R-PYAPI-5): the index folder ``index_folder/index_name`` is
    made if missing; an index committed there is opened, unless ``override`` removes it first.
    The first ``add_documents`` builds the index (k-means on those documents, R-KMEANS-1), later
    ones add segments coded with its centroids (R-INDEX-7).

    ``nbits`` (1, 2 or 4), ``kmeans_niters``, ``n_samples_kmeans``, ``seed`` and ``num_threads``
    are the build's ``nbits``, ``kmeans_iters``, ``sample``, ``seed`` and ``threads``;
    ``n_ivf_probe`` and ``n_full_scores`` are the search's ``nprobe`` and ``rescore`` (None: this
    index's defaults, R-ISEARCH-3). ``max_points_per_centroid``, ``use_triton``, ``batch_size``,
    ``show_progress``, ``device`` and ``low_memory`` are accepted and ignored; ``use_fast=False``
    (the Stanford backend) and any other keyword raise ``InputError``."""

    is_end_to_end_index = True

    def __init__(
        self,
        index_folder: str | os.PathLike[str] = "indexes",
        index_name: str = "colbert",
        override: bool = False,
        use_fast: bool = True,
        nbits: int = 4,
        kmeans_niters: int = 4,
        max_points_per_centroid: int = 256,
        n_samples_kmeans: int | None = None,
        seed: int = 42,
        use_triton: bool | None = None,
        n_ivf_probe: int | None = None,
        n_full_scores: int | None = None,
        batch_size: int = 1 << 18,
        num_threads: int | None = None,
        show_progress: bool = True,
        device: str | list[str] | None = None,
        low_memory: bool = False,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise InputError(f"R-PYAPI-5: unsupported arguments {sorted(kwargs)}")
        if not _checks.flag(use_fast, "use_fast", "R-PYAPI-5"):
            raise InputError(
                "R-PYAPI-5: use_fast=False (the Stanford PLAID backend) is not provided"
            )
        override = _checks.flag(override, "override", "R-PYAPI-5")
        if not isinstance(index_name, str) or not index_name or os.sep in index_name:
            raise InputError(f"R-PYAPI-5: index_name must be a folder name, got {index_name!r}")
        self.nbits = _checks.integer(nbits, "nbits", "R-QUANT-1", 1, 4)
        if self.nbits == 3:
            raise InputError("R-QUANT-1: nbits must be 1, 2 or 4, got 3")
        self.kmeans_niters = _checks.integer(kmeans_niters, "kmeans_niters", "R-KMEANS-1", 0)
        self.n_samples_kmeans = _checks.optional_integer(
            n_samples_kmeans, "n_samples_kmeans", "R-KMEANS-1", 1
        )
        self.seed = _checks.integer(seed, "seed", "R-KMEANS-2", 0, 2**64 - 1)
        self.n_ivf_probe = _checks.optional_integer(n_ivf_probe, "n_ivf_probe", "R-ISEARCH-3", 1)
        self.n_full_scores = _checks.optional_integer(
            n_full_scores, "n_full_scores", "R-ISEARCH-3", 1
        )
        self.num_threads = _checks.threads(num_threads)
        self.index_folder = os.fspath(index_folder)
        self.index_name = index_name
        self.index_path = os.path.join(self.index_folder, index_name)
        if override and os.path.isdir(self.index_path):
            self._remove()
        os.makedirs(self.index_path, exist_ok=True)
        self._index: Index | None = (
            None if writer.is_uncommitted(self.index_path) else Index.open(self.index_path)
        )

    def _remove(self) -> None:
        """``override``: removes the folder, which must hold an index (its ``MANIFEST``) or what
        a first commit left, never anything else (R-PYAPI-5)."""
        path = self.index_path
        if not (os.path.isfile(os.path.join(path, "MANIFEST")) or writer.is_uncommitted(path)):
            raise InputError(
                f"R-PYAPI-5: override=True would remove {path!r}, which holds no index"
            )
        shutil.rmtree(path)

    @property
    def index(self) -> Index | None:
        """The underlying ``lateint_ref.Index`` (None before the first ``add_documents``), at its
        latest commit."""
        if self._index is not None:
            self._index.refresh()
        return self._index

    def __len__(self) -> int:
        index = self.index
        return 0 if index is None else index.n_live

    def add_documents(
        self,
        documents_ids: str | list[str] | list[int] | range,
        documents_embeddings: Any,
        **kwargs: Any,
    ) -> PLAID:
        """R-PYAPI-6: adds documents, one ``[n_tokens, dim]`` matrix per id, in one commit, and
        returns this index. An id that a live document already has raises ``InputError``
        (R-INDEX-11; ``update_documents`` replaces); other keywords are ignored."""
        docs = embeddings.matrices(documents_embeddings, "documents_embeddings", "R-PYAPI-6")
        ids = _ids(documents_ids, len(docs), "R-PYAPI-6")
        if not docs:
            return self
        self._write(docs, ids, upsert=False)
        return self

    def _write(self, docs: list[np.ndarray], ids: list[Any], *, upsert: bool) -> None:
        index = self.index
        if index is None:
            self._index = Index.create(
                self.index_path,
                docs,
                ids,
                nbits=self.nbits,
                seed=self.seed,
                sample=self.n_samples_kmeans,
                kmeans_iters=self.kmeans_niters,
                threads=self.num_threads,
                progress=False,
            )
        else:
            self._index = index.add(
                docs, ids, upsert=upsert, threads=self.num_threads, progress=False
            )

    def update_documents(
        self, documents_ids: str | list[str] | list[int], documents_embeddings: Any
    ) -> PLAID:
        """R-PYAPI-7: replaces the documents of ids already there and adds the others, in one
        commit (``Index.add(..., upsert=True)``, R-INDEX-11)."""
        docs = embeddings.matrices(documents_embeddings, "documents_embeddings", "R-PYAPI-7")
        ids = _ids(documents_ids, len(docs), "R-PYAPI-7")
        if docs:
            self._write(docs, ids, upsert=True)
        return self

    def remove_documents(self, documents_ids: str | list[str] | list[int]) -> PLAID:
        """R-PYAPI-7: deletes the live documents of ``documents_ids`` in one commit (R-INDEX-10);
        ids no live document has are skipped, as PyLate skips them."""
        ids = _ids(documents_ids, -1, "R-PYAPI-7")
        index = self.index
        if index is None or not ids:
            return self
        live = set(index.live_ids)
        present = list(dict.fromkeys(x for x in ids if _hashable(x) and x in live))
        if present:
            self._index = index.delete(present)
        return self

    def __call__(
        self,
        queries_embeddings: Any,
        k: int = 10,
        subset: list[list[Any]] | list[Any] | None = None,
    ) -> list[list[RerankResult]]:
        """R-PYAPI-8: the ``k`` best live documents of each query, best first, as
        ``{"id": ..., "score": float}``; one list per query (one for a single ``[q_len, dim]``
        query); a ``k`` reaching the live documents returns them all (R-ISEARCH-3).
        ``subset``: ids allowed for every query, or one list of ids per query (R-ISEARCH-7)."""
        index = self.index
        if index is None or index.n_live == 0:
            raise InputError("R-PYAPI-8: the index is empty: add documents before searching")
        queries = embeddings.matrices(queries_embeddings, "queries_embeddings", "R-PYAPI-8")
        k = _checks.k(k)
        params: dict[str, Any] = {"threads": self.num_threads}
        if self.n_ivf_probe is not None:
            params["nprobe"] = min(self.n_ivf_probe, index.n_centroids)
        if self.n_full_scores is not None:
            rescore = self.n_full_scores
            params["rescore"] = rescore
            params["candidates"] = max(index.search_defaults(k)["candidates"], rescore)
        if not queries:
            return []
        if subset is None:
            hits = index.search(queries, k, **params)
        elif subset and all(isinstance(s, (list, tuple, range, np.ndarray)) for s in subset):
            if len(subset) != len(queries):
                raise InputError(
                    f"R-PYAPI-8: subset holds {len(subset)} lists for {len(queries)} queries"
                )
            hits = [index.search([q], k, allow=list(s), **params)[0]
                    for q, s in zip(queries, subset, strict=True)]  # fmt: skip
        else:
            hits = index.search(queries, k, allow=_allow(subset), **params)
        return [
            [{"id": i, "score": float(s)} for i, s in zip(h.ids, h.scores.tolist(), strict=True)]
            for h in hits
        ]

    def get_documents_embeddings(self, documents_ids: list[list[Any]]) -> list[list[np.ndarray]]:
        """R-PYAPI-12: the decoded ``[n_tokens, dim] float32`` tokens of each document, one list
        per list of ids (R-ISEARCH-5: centroid plus quantised residual, not the vectors added,
        in the index's stored order)."""
        index = self.index
        if not isinstance(documents_ids, (list, tuple)):
            raise InputError(
                f"R-PYAPI-12: documents_ids must be a list of lists of ids, got {documents_ids!r}"
            )
        deleted = set() if index is None else set(index.deleted)
        ids_by_position = [] if index is None else index.ids
        live = {x: p for p, x in enumerate(ids_by_position) if p not in deleted}
        out = []
        for group in documents_ids:
            ids = _ids(group, -1, "R-PYAPI-12")
            missing = [x for x in ids if not _hashable(x) or x not in live]
            if missing:
                raise InputError(f"R-PYAPI-12: no live document has id {missing[0]!r}")
            out.append([] if not ids or index is None else index.decode([live[x] for x in ids]))
        return out


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _allow(subset: Any) -> list[Any]:
    """One list of ids for every query (R-PYAPI-8)."""
    if isinstance(subset, (str, bytes)) or not isinstance(subset, (list, tuple, range, np.ndarray)):
        raise InputError(f"R-PYAPI-8: subset must be a list of ids or of lists, got {subset!r}")
    return list(subset)
