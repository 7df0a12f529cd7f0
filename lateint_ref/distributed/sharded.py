"""``ShardedIndex``: a sharded index built and searched in this process or on Ray
(spec/distributed.md). Its search keeps the global budgets of one index (R-DIST-3), so its hits
are those of one index holding the collection in its order with the same codec, whatever the number
of shards (R-DIST-8: documents keep their collection numbers); live operations go to
the shard that owns each id (R-DIST-1, R-DIST-4)."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from typing import Any

import numpy as np

from lateint_ref import _checks
from lateint_ref.distributed import layout
from lateint_ref.distributed.assign import group
from lateint_ref.distributed.errors import ShardUnavailableError
from lateint_ref.distributed.merge import best_hits, cut, default_budgets
from lateint_ref.distributed.pool import LocalPool, Missing, RayPool, run_tasks
from lateint_ref.distributed.shard import Stale, build
from lateint_ref.errors import IndexFormatError, InputError
from lateint_ref.index import Hits, Index
from lateint_ref.index.writer import DEFAULT_KMEANS_ITERS, external_ids
from lateint_ref.scoring.packing import pack_documents, pack_queries

Pool = LocalPool | RayPool

# Times a search runs again when a commit changed a shard between its stages (R-DIST-3).
STALE_RETRIES = 3
# Tokens naming one search's stage 1 for its stage 2 (the centroid scores a shard kept).
_TOKENS = itertools.count()


class Answer(list[Hits]):
    """One ``Hits`` per query, and ``missing``: the shards that did not answer (R-DIST-5), empty
    when the answer is complete."""

    def __init__(self, hits: list[Hits], missing: list[int]) -> None:
        super().__init__(hits)
        self.missing = missing

    @property
    def complete(self) -> bool:
        return not self.missing


def _pool(lay: layout.Layout, ray: str | None) -> Pool:
    """R-DIST-6: ``None`` or ``"local"``: the shards in this process; otherwise a Ray address
    (``"auto"``, ``"ray://host:port"``...): one actor per shard."""
    shards = [(lay.path, s, lay.codec_sha256) for s in range(lay.n_shards)]
    if ray is None or ray == "local":
        return LocalPool(shards)
    if not isinstance(ray, str):
        raise InputError(f'R-DIST-6: ray must be "local" or a Ray address, got {ray!r}')
    return RayPool(shards, ray)


def _subset(vectors: np.ndarray, offsets: np.ndarray, items: list[int]) -> list[np.ndarray]:
    return [vectors[offsets[i] : offsets[i + 1]] for i in items]


class ShardedIndex:
    """An opened sharded index: use ``ShardedIndex.create`` or ``ShardedIndex.open``."""

    def __init__(self, lay: layout.Layout, pool: Pool) -> None:
        self.layout = lay
        self.pool = pool
        self._infos: list[dict[str, Any]] = []
        # Seconds of the last search: "stage1", "stage2", "stage3" (the calls to the shards,
        # each until the last answer), "merge1", "merge2", "merge3" (the coordinator's merges).
        self.last_timings: dict[str, float] = {}
        self._refresh_infos()

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        documents: Any,
        ids: Any,
        n_shards: int,
        *,
        ray: str | None = None,
        nbits: int = 2,
        seed: int = 0,
        n_centroids: int | None = None,
        sample: int | None = None,
        kmeans_iters: int = DEFAULT_KMEANS_ITERS,
        metadata: dict[str, Any] | None = None,
    ) -> ShardedIndex:
        """Builds a sharded index of ``documents`` (any form ``Index.create`` takes in memory)
        with ``ids`` at ``path`` and opens it (R-DIST-6): the codec trained once on the sample
        of the whole collection (R-KMEANS-2 over the collection in the given order, R-INDEX-20),
        byte for byte the codec ``Index.create(documents, ids)`` trains; each document to the
        shard of its id (R-DIST-1); each shard created with that codec, by a Ray task per shard
        or here (``ray``: ``"local"`` or None, else a Ray address, ``"auto"`` included); the
        manifest ``SHARDS`` committed last (R-DIST-2)."""
        n_shards = _checks.integer(n_shards, "n_shards", "R-DIST-1", 1, 4096)
        if ray is not None and not isinstance(ray, str):
            raise InputError(f'R-DIST-6: ray must be "local" or a Ray address, got {ray!r}')
        root = os.fspath(path)
        if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
            raise InputError(f"R-DIST-2: {root} exists and is not an empty directory")
        vectors, offsets = pack_documents(documents)
        n_docs = len(offsets) - 1
        if n_docs == 0:
            raise InputError("R-INDEX-5: an index needs at least one document")
        ext = external_ids(ids, n_docs)
        id_list: list[Any] = ext.tolist() if isinstance(ext, np.ndarray) else list(ext)
        if len(set(id_list)) != n_docs:
            raise InputError("R-INDEX-5: ids must be distinct")
        created = not os.path.exists(root)
        os.makedirs(root, exist_ok=True)
        try:
            n_tokens = int(offsets[-1])
            _, picks = Index.codec_sample(
                n_tokens, seed=seed, n_centroids=n_centroids, sample=sample
            )
            Index.fit_codec(
                os.path.join(root, layout.CODEC),
                vectors[picks],
                n_tokens,
                nbits=nbits,
                seed=seed,
                n_centroids=n_centroids,
                sample=sample,
                kmeans_iters=kmeans_iters,
                metadata=metadata,
                progress=False,
            )
            codec = os.path.join(root, layout.CODEC)
            owned = group(id_list, n_shards)
            tasks = [
                (
                    os.path.join(root, layout.shard_name(s)),
                    _subset(vectors, offsets, items),
                    [id_list[i] for i in items],
                    codec,
                )
                for s, items in enumerate(owned)
                if items
            ]
            for s in range(n_shards):
                os.makedirs(os.path.join(root, layout.shard_name(s)), exist_ok=True)
                if owned[s]:  # R-DIST-8: a document's number is its place in the collection
                    layout.write_order(root, s, 1, np.asarray(owned[s], np.int64))
            run_tasks(ray, build, tasks)
            for s, items in enumerate(owned):
                shard = os.path.join(root, layout.shard_name(s))
                if items and not os.path.exists(os.path.join(shard, "MANIFEST")):
                    raise IndexFormatError(
                        f"R-DIST-2: {shard}: built by a worker but not visible here (shard "
                        "folders must be on storage the coordinator and the workers share)"
                    )
            lay = layout.write(root, n_shards, metadata or {})
        except BaseException:
            if created:
                shutil.rmtree(root, ignore_errors=True)
            else:
                for name in os.listdir(root):
                    p = os.path.join(root, name)
                    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
            raise
        return cls(lay, _pool(lay, ray))

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, ray: str | None = None) -> ShardedIndex:
        """Opens the sharded index at ``path`` (R-DIST-2): every shard opened by its worker,
        which checks that its codec is the shared one."""
        lay = layout.read(path)
        return cls(lay, _pool(lay, ray))

    def close(self) -> None:
        """Stops the shard workers (the Ray actors)."""
        self.pool.close()

    def __enter__(self) -> ShardedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refresh_infos(self) -> None:
        calls = {s: ("info", ()) for s in range(self.layout.n_shards)}
        found = self.pool.call(calls, None)
        missing = [s for s, v in found.items() if isinstance(v, Missing)]
        if missing:
            raise ShardUnavailableError(f"R-DIST-5: shards {missing} did not answer", missing)
        self._infos = [found[s] for s in range(self.layout.n_shards)]
        ks = {i["n_centroids"] for i in self._infos if i["n_centroids"]}
        self._k_centroids = ks.pop() if len(ks) == 1 else 0

    @property
    def n_shards(self) -> int:
        return self.layout.n_shards

    @property
    def n_docs(self) -> int:
        """Stored documents over every shard, deleted ones included (R-INDEX-9)."""
        return sum(i["n_docs"] for i in self._infos)

    @property
    def n_live(self) -> int:
        return sum(i["n_live"] for i in self._infos)

    def shard_sizes(self) -> list[int]:
        """Stored documents per shard."""
        return [i["n_docs"] for i in self._infos]

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Returns once every shard's worker answers (after an actor's restart, R-DIST-7)."""
        timeout = _checks.positive_real(timeout, "timeout", "R-DIST-7")
        lost = self.pool.wait_ready(timeout)
        if lost:
            raise ShardUnavailableError(
                f"R-DIST-7: shards {lost} did not answer within {timeout} s", lost
            )
        self._refresh_infos()

    def search(
        self,
        queries: Any,
        k: int = 10,
        *,
        nprobe: int | None = None,
        candidates: int | None = None,
        rescore: int | None = None,
        exhaustive: bool = False,
        timeout: float | None = None,
        allow_partial: bool = False,
    ) -> Answer:
        """The ``k`` best documents of each query over every shard (R-DIST-3): the hits and
        scores of ``Index.search`` over one index holding the collection in its order (the
        collection numbers of R-DIST-8: the given order, then additions), coded with the shared
        codec, with the same parameters (their defaults from the
        union's size, R-ISEARCH-3). ``timeout``: seconds the shards have to answer each stage
        (up to three). A shard that does not answer raises ``ShardUnavailableError`` naming it,
        unless ``allow_partial``: the answer of the shards that did, its ``missing`` naming the
        others (R-DIST-5)."""
        k = _checks.k(k)
        exhaustive = _checks.flag(exhaustive, "exhaustive", "R-ISEARCH-2")
        allow_partial = _checks.flag(allow_partial, "allow_partial", "R-DIST-5")
        if timeout is not None:
            timeout = _checks.positive_real(timeout, "timeout", "R-DIST-5")
        given = {"nprobe": nprobe, "candidates": candidates, "rescore": rescore}
        values = {
            name: None if v is None else _checks.integer(v, name, "R-ISEARCH-3", 1)
            for name, v in given.items()
        }

        def budgets() -> tuple[int, int, int]:
            # R-ISEARCH-3's defaults from the union's size now (a rerun sees the new size).
            d_probe, d_cand, d_res = default_budgets(k, self._k_centroids, self.n_docs)
            n_probe = d_probe if values["nprobe"] is None else values["nprobe"]
            if not 1 <= n_probe <= self._k_centroids:
                raise InputError(f"R-ISEARCH-3: nprobe must be in 1..={self._k_centroids}")
            n_cand = max(d_cand if values["candidates"] is None else values["candidates"], k)
            n_res = max(d_res if values["rescore"] is None else values["rescore"], k)
            return n_probe, n_cand, n_res

        budgets()  # the arguments checked before any query is read
        q_vectors, q_offsets = pack_queries(queries)
        qs = [q_vectors[a:b] for a, b in itertools.pairwise(q_offsets.tolist())]
        if not qs:
            return Answer([], [])
        for _ in range(STALE_RETRIES):
            answer = self._search_once(qs, k, *budgets(), exhaustive, timeout, allow_partial)
            if answer is not None:
                return answer
            self._refresh_infos()  # a commit changed a shard between the stages: again
        raise ShardUnavailableError(
            f"R-DIST-5: the shards changed between the stages of {STALE_RETRIES} searches "
            "in a row (commits faster than searches)",
            [],
        )

    def _search_once(
        self,
        qs: list[np.ndarray],
        k: int,
        n_probe: int,
        n_cand: int,
        n_res: int,
        exhaustive: bool,
        timeout: float | None,
        allow_partial: bool,
    ) -> Answer | None:
        """R-DIST-3's protocol once; None when a shard changed between its stages."""
        shards = [s for s, i in enumerate(self._infos) if i["n_live"]]
        missing: list[int] = []
        timings: dict[str, float] = {}

        def ask(stage: str, calls: dict[int, tuple[str, tuple[Any, ...]]]) -> dict[int, Any]:
            start = time.perf_counter()
            found = self.pool.call(calls, timeout)
            timings[stage] = time.perf_counter() - start
            lost = sorted(s for s, v in found.items() if isinstance(v, Missing))
            if lost and not allow_partial:
                why = "; ".join(f"shard {s}: {found[s].reason}" for s in lost)
                raise ShardUnavailableError(f"R-DIST-5: shards {lost} did not answer ({why})", lost)
            missing.extend(lost)
            return {s: v for s, v in found.items() if not isinstance(v, Missing)}

        def prefixes(found: dict[int, list[Any]], n: int) -> dict[int, list[np.ndarray]]:
            # Per shard, per query: the collection numbers among the global n best (R-DIST-3).
            lists: dict[int, list[np.ndarray]] = {s: [] for s in found}
            for i in range(len(qs)):
                lengths = cut({s: r[i] for s, r in found.items()}, n)
                for s, r in found.items():
                    lists[s].append(r[i][0][: lengths[s]])
            return {s: v for s, v in lists.items() if any(len(x) for x in v)}

        if exhaustive or k >= self.n_live:
            # R-ISEARCH-2, R-ISEARCH-3: every live document scored exactly, on its shard.
            exact = ask("stage3", {s: ("rescore", (qs, None, k)) for s in shards})
        else:
            token = f"{os.getpid()}-{id(self)}-{next(_TOKENS)}"
            probed = ask("stage1", {s: ("probe", (qs, n_probe, n_cand, token)) for s in shards})
            generation = {s: g for s, (g, _) in probed.items()}
            start = time.perf_counter()
            kept = prefixes({s: r for s, (_, r) in probed.items()}, n_cand)
            timings["merge1"] = time.perf_counter() - start
            args = {s: (qs, kept[s], n_res, token, generation[s]) for s in kept}
            if len(kept) == 1:
                # One shard holds every candidate: its own code-score order is the global
                # one, so it scores its `rescore` best exactly in the same call.
                exact = ask("stage2", {s: ("codes", (*a, k)) for s, a in args.items()})
            else:
                coded = ask("stage2", {s: ("codes", a) for s, a in args.items()})
                if any(isinstance(v, Stale) for v in coded.values()):
                    return None
                start = time.perf_counter()
                picked = prefixes(coded, n_res)
                timings["merge2"] = time.perf_counter() - start
                exact = ask(
                    "stage3",
                    {s: ("rescore", (qs, picked[s], k, generation[s])) for s in picked},
                )
        if any(isinstance(v, Stale) for v in exact.values()):
            return None
        start = time.perf_counter()
        hits = [best_hits({s: r[i] for s, r in exact.items()}, k) for i in range(len(qs))]
        timings["merge3"] = time.perf_counter() - start
        self.last_timings = timings
        return Answer(hits, sorted(set(missing)))

    def _route(self, ids: Any, what: str) -> tuple[list[Any], list[list[int]]]:
        if isinstance(ids, (str, bytes)) or ids is None:
            raise InputError(f"{what}: ids must be a sequence of ids, got {ids!r}")
        given = list(ids)  # once: a generator is read a single time
        ext = external_ids(given, len(given))
        items: list[Any] = ext.tolist() if isinstance(ext, np.ndarray) else list(ext)
        return items, group(items, self.n_shards)

    def add(self, documents: Any, ids: Any, *, upsert: bool = False) -> ShardedIndex:
        """Adds ``documents`` with ``ids`` (required: they choose the shards), each to the shard
        of its id, one commit per shard touched (R-DIST-4, R-INDEX-7). Without ``upsert`` an id
        a live document has raises ``InputError`` before any change; with it, the owning shard
        replaces it in its commit (R-INDEX-11)."""
        upsert = _checks.flag(upsert, "upsert", "R-INDEX-11")
        vectors, offsets = pack_documents(documents)
        items, owned = self._route(ids, "R-DIST-4")
        if len(items) != len(offsets) - 1:
            raise InputError(f"R-INDEX-5: {len(items)} ids for {len(offsets) - 1} documents")
        if len(set(items)) != len(items):
            raise InputError("R-INDEX-5: ids must be distinct")
        touched = {s: [items[i] for i in its] for s, its in enumerate(owned) if its}
        if not upsert:
            free = self._ask_all({s: ("not_live", (x,)) for s, x in touched.items()})
            for s, x in touched.items():
                taken = [i for i in x if i not in set(free[s])]
                if taken:
                    raise InputError(
                        f"R-INDEX-5: id {taken[0]!r} is already in the index "
                        "(R-INDEX-11: upsert replaces it)"
                    )
        first = max((i["next_number"] for i in self._infos), default=0)
        calls = {
            s: (
                "add",
                (
                    _subset(vectors, offsets, owned[s]),
                    touched[s],
                    upsert,
                    [first + i for i in owned[s]],  # R-DIST-8: after every stored document
                ),
            )
            for s in touched
        }
        self._ask_all(calls)
        self._refresh_infos()
        return self

    def delete(self, ids: Any) -> ShardedIndex:
        """Deletes the live documents of ``ids`` from their shards, one commit per shard touched
        (R-DIST-4, R-INDEX-10); an id no live document has raises ``InputError`` before any
        change."""
        items, owned = self._route(ids, "R-DIST-4")
        touched = {s: [items[i] for i in its] for s, its in enumerate(owned) if its}
        absent = self._ask_all({s: ("not_live", (x,)) for s, x in touched.items()})
        for s in touched:
            if absent[s]:
                raise InputError(f"R-INDEX-10: id {absent[s][0]!r} is not in the index")
        self._ask_all({s: ("delete", (x,)) for s, x in touched.items()})
        self._refresh_infos()
        return self

    def compact(self) -> ShardedIndex:
        """Compacts every shard (R-DIST-4, R-INDEX-12)."""
        self._ask_all({s: ("compact", ()) for s in range(self.n_shards)})
        self._refresh_infos()
        return self

    def _ask_all(self, calls: dict[int, tuple[str, tuple[Any, ...]]]) -> dict[int, Any]:
        found = self.pool.call(calls, None)
        lost = sorted(s for s, v in found.items() if isinstance(v, Missing))
        if lost:
            raise ShardUnavailableError(f"R-DIST-5: shards {lost} did not answer", lost)
        return found
