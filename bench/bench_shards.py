"""A sharded index (spec/distributed.md) against one index: 1, 2 and 4 shards on the synthetic
collection of bench_index_scale.py (clustered 128-d tokens, documents of 100..200 tokens).

For each shard count: build time (``ShardedIndex.create`` in local mode: the codec fitted once on
the sample of the whole collection, then each shard coded with it), then for the shards in this
process (``--ray local``) and as Ray actors (one per shard, ``ray.init(num_cpus=...)``): p50 and
p99 latency of one query per call (k=10, search defaults), throughput of the whole query set in
one call, and the per-query split of a call into the shards' two stages (each until the last
shard answers) and the coordinator's merges, beside ``Index.search`` of one index with the same
codec (1 thread and every core). Every sharded answer is checked equal to the one index's
(R-DIST-3: the one index holds the collection in its order).

    .venv/bin/python bench/bench_shards.py [--tokens 1000000] [--queries 200] [--ray]
        [--keep DIR] [--output bench/results/shards.md]

``--keep DIR`` builds the indexes in DIR and, when DIR already holds them from a run with the
same ``--tokens``, opens them instead (their build times read from DIR/builds.json), so that a
change to the search is measured again without the builds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index_scale import collection, queries

from lateint_ref.distributed import ShardedIndex
from lateint_ref.distributed.merge import cut
from lateint_ref.index import Index

SHARDS = (1, 2, 4)


def percentile(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def one_by_one(search, qs: np.ndarray) -> tuple[list[float], list[list]]:
    """ms per query, one query per call, after a warm-up; and the hits' ids."""
    search(qs[:1])
    times, ids = [], []
    for q in qs:
        start = time.perf_counter()
        hits = search(q[None])
        times.append((time.perf_counter() - start) * 1e3)
        ids.append(list(hits[0].ids))
    return times, ids


def split(sharded: ShardedIndex, qs: np.ndarray) -> dict[str, float]:
    """Mean ms per query (one per call) of each part of a sharded search."""
    parts: dict[str, list[float]] = {}
    for q in qs:
        sharded.search(q[None])
        for name, sec in sharded.last_timings.items():
            parts.setdefault(name, []).append(sec * 1e3)
    return {name: statistics.fmean(v) for name, v in parts.items()}


def shard_work(sharded: ShardedIndex, qs: np.ndarray) -> dict[str, tuple[float, float]]:
    """Mean ms per query (one per call) of the shards' own work in each call of a local sharded
    search, the shards run one after another: per worker method, (slowest shard, all shards).
    A stage's time less its slowest shard's work is the fan-out's overhead."""
    pool = sharded.pool
    seen: dict[str, list[tuple[float, float]]] = {}

    def call(calls, timeout):
        out, spent = {}, []
        for s, (name, args) in calls.items():
            start = time.perf_counter()
            out[s] = getattr(pool.workers[s], name)(*args)
            spent.append((time.perf_counter() - start) * 1e3)
        seen.setdefault(name, []).append((max(spent), sum(spent)))
        return out

    pool.call = call
    try:
        for q in qs:
            sharded.search(q[None])
    finally:
        del pool.call
    return {
        name: (statistics.fmean(x[0] for x in v), statistics.fmean(x[1] for x in v))
        for name, v in seen.items()
    }


def cut_cost(n_shards: int, per_shard: int, trials: int = 20) -> float:
    """Mean ms of the coordinator's step-2 merge (``merge.cut``) of one query for ``n_shards``
    lists of ``per_shard`` candidates (random scores, few distinct values: ties at the cut)."""
    rng = np.random.default_rng(0)
    numbers = rng.permutation(n_shards * per_shard)
    found = {}
    for s in range(n_shards):
        score = np.round(rng.standard_normal(per_shard), 2).astype(np.float32)
        mine = numbers[s * per_shard : (s + 1) * per_shard]
        order = np.lexsort((mine, -score))
        found[s] = (mine[order], score[order])
    start = time.perf_counter()
    for _ in range(trials):
        cut(found, per_shard)
    return (time.perf_counter() - start) / trials * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=float, default=1e6)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ray", action="store_true", help="also search with one Ray actor per shard")
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="build the indexes here, or reuse them")
    ap.add_argument(
        "--cut-cost",
        type=int,
        nargs=2,
        metavar=("SHARDS", "CANDIDATES"),
        help="only time the coordinator's candidate merge for SHARDS lists of CANDIDATES",
    )
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    if args.cut_cost:
        n, c = args.cut_cost
        print(f"merge.cut of {n} lists of {c:,} candidates: {cut_cost(n, c):.2f} ms per query")
        return
    vectors, offsets, topics = collection(int(args.tokens), seed=0)
    qs = queries(topics, args.queries, seed=0)
    n_docs = len(offsets) - 1
    ids = list(range(n_docs))
    docs = (vectors, offsets)
    lines = [
        f"Run of {datetime.date.today()}: {len(vectors):,} tokens, {n_docs:,} documents, "
        f"{len(qs)} queries of {qs.shape[1]} tokens, k=10, search defaults.",
        "",
    ]
    rows = []
    work: dict[int, dict[str, tuple[float, float]]] = {}
    ray = None
    if args.ray:
        import ray as ray_module

        ray = ray_module
        ray.init(num_cpus=args.ray_cpus, log_to_driver=False, include_dashboard=False)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        place: contextlib.AbstractContextManager[str] = contextlib.nullcontext(str(args.keep))
    else:
        place = tempfile.TemporaryDirectory(prefix="bench-shards-")
    with place as tmp:
        record = Path(tmp) / "builds.json"
        builds = json.loads(record.read_text()) if record.exists() else {}
        if builds and builds.get("tokens") != len(vectors):
            raise SystemExit(f"{tmp} holds indexes of {builds.get('tokens')} tokens")
        one = Index.open(f"{tmp}/one") if "one" in builds else None
        for n in SHARDS:
            if str(n) in builds:
                build = builds[str(n)]
                sharded = ShardedIndex.open(f"{tmp}/s{n}")
            else:
                start = time.perf_counter()
                sharded = ShardedIndex.create(f"{tmp}/s{n}", docs, ids, n)
                build = time.perf_counter() - start
                builds.update({"tokens": len(vectors), str(n): build})
                record.write_text(json.dumps(builds))
            if one is None:
                # R-DIST-3's one index: the collection in its order, with the shared codec.
                one = Index.create(f"{tmp}/one", docs, ids, codec=sharded.layout.codec)
                builds["one"] = True
                record.write_text(json.dumps(builds))
            union = one
            one_t, one_ids = one_by_one(lambda q, u=union: u.search(q, 10, threads=1), qs)
            all_t, _ = one_by_one(lambda q, u=union: u.search(q, 10), qs)
            modes = [("local", sharded)]
            if ray is not None:
                modes.append(("ray", ShardedIndex.open(f"{tmp}/s{n}", ray="auto")))
            for mode, handle in modes:
                times, got = one_by_one(lambda q, h=handle: h.search(q, 10), qs)
                assert got == one_ids, f"{n} shards ({mode}): not the one index's hits"
                start = time.perf_counter()
                handle.search(qs, 10)
                qps = len(qs) / (time.perf_counter() - start)
                parts = split(handle, qs[:50])
                if mode == "local":
                    work[n] = shard_work(handle, qs[:50])
                rows.append(
                    (
                        n,
                        mode,
                        build,
                        times,
                        qps,
                        parts,
                        statistics.median(one_t),
                        statistics.median(all_t),
                    )
                )
                print(n, mode, f"build {build:.1f}s p50 {statistics.median(times):.2f}ms", parts)
                if mode == "ray":
                    handle.close()
    lines += [
        "| shards | workers | build s | p50 ms | p99 ms | queries/s (one call) | stage 1 ms | "
        "merge 1 ms | stage 2 ms | merge 2 ms | one index p50 ms (1 thr / all) |",
        "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, mode, build, times, qps, parts, one1, oneall in rows:
        lines.append(
            f"| {n} | {mode} | {build:.1f} | {statistics.median(times):.2f} | "
            f"{percentile(times, 99):.2f} | {qps:.0f} | {parts.get('stage1', 0):.2f} | "
            f"{parts.get('merge1', 0):.2f} | {parts.get('stage2', 0):.2f} | "
            f"{parts.get('merge2', 0):.2f} | {one1:.2f} / {oneall:.2f} |"
        )
    lines += [
        "",
        "The shards' own work per call (mean ms per query, the shards run one after another):",
        "",
        "| shards | call | slowest shard ms | all shards ms |",
        "| ---: | :--- | ---: | ---: |",
    ]
    for n, calls in work.items():
        for name, (slowest, total) in calls.items():
            lines.append(f"| {n} | {name} | {slowest:.2f} | {total:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
