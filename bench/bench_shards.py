"""A sharded index (spec/distributed.md) against one index: 1, 2 and 4 shards on the synthetic
collection of bench_index_scale.py (clustered 128-d tokens, documents of 100..200 tokens).

For each shard count: build time (``ShardedIndex.create`` in local mode: the codec fitted once on
the sample of the whole collection, then each shard coded with it), then for the shards in this
process (``--ray local``) and as Ray actors (one per shard, ``ray.init(num_cpus=...)``): p50 and
p99 latency of one query per call (k=10, search defaults), throughput of the whole query set in
one call, and the per-query split of a call into the shards' two stages (each until the last
shard answers) and the coordinator's merges, beside ``Index.search`` of one index with the same
codec (1 thread and every core). Every sharded answer is checked equal to the one index's
(R-DIST-3: the one index is built shard after shard).

    .venv/bin/python bench/bench_shards.py [--tokens 1000000] [--queries 200] [--ray]
        [--output bench/results/shards.md]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index_scale import collection, queries

from lateint_ref.distributed import ShardedIndex
from lateint_ref.distributed.assign import group
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=float, default=1e6)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ray", action="store_true", help="also search with one Ray actor per shard")
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
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
    ray = None
    if args.ray:
        import ray as ray_module

        ray = ray_module
        ray.init(num_cpus=args.ray_cpus, log_to_driver=False, include_dashboard=False)
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        for n in SHARDS:
            start = time.perf_counter()
            sharded = ShardedIndex.create(f"{tmp}/s{n}", docs, ids, n)
            build = time.perf_counter() - start
            order = [i for items in group(ids, n) for i in items]
            codec = sharded.layout.codec
            union = Index.create(
                f"{tmp}/u{n}",
                [vectors[offsets[i] : offsets[i + 1]] for i in order],
                [ids[i] for i in order],
                codec=codec,
            )
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
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
