"""The on-disk index on SciFact: build time, size, latency, memory and quality, side by side with
exact brute force and with fast-plaid (through PyLate 1.6.0) on the same token embeddings.

Embeddings: lateint-ref's encoder (torch float32) on all-MiniLM-L6-v2 with a 128-d projection,
by default PyLate 1.6.0's seed-0 model (``--model``: see ``bench/scifact.py``), cached outside
the repository (5,183 documents, 300 test queries).

* exact: ``search_exact`` over ``Documents`` (float32), the quality ceiling;
* index: ``Index.create`` with nbits 2 (on 2 threads and on 1 thread), 1 and 4; searched one
  query at a time on one thread (``threads=1``, k=10: latency, nDCG@10, share of the exact top 10
  found) and as one batch on every core (k=10: throughput; k=100: Recall@100); a sweep of
  ``nprobe`` x ``rescore`` and ``exhaustive=True``; peak RSS of a fresh process that opens the
  index and searches every query;
* fast-plaid: ``bench/peers_fastplaid.py`` in the peers venv (``$HOME/peers``), its result
  cached beside the embeddings (``--rerun-peers`` measures again).

    .venv/bin/python bench/bench_index.py [--output bench/results/index.md] [--cache DIR]
        [--model pylate-seed0|backbone-seed0] [--rerun-peers] [--no-peers]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import index_report
import metrics
import scifact
from measure import Clock, dir_bytes, vm_hwm, write_report

import lateint_ref as li

PEERS = Path(os.environ.get("PEERS_VENV", Path.home() / "peers")) / "bin" / "python"
NPROBE = (1, 2, 4, 8)
RESCORE = (32, 64, 128, 256)
CANDIDATES = (128, 256, 512, 1024)
SEEDS = (1, 2, 3, 4)  # k-means seeds besides 0, nbits=2 defaults
BUILD_THREADS = 2


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def top_ids(hits) -> list:
    """The ids of one query's hits, best first."""
    return list(hits.ids)


def one_at_a_time(search, queries: np.ndarray) -> tuple[list[float], list[list]]:
    """Calls ``search(query)`` for each ``[q_len, dim]`` query after one warm-up call; returns
    the latencies in ms and each query's ranking (ids, best first)."""
    search(queries[0])
    times, runs = [], []
    for q in queries:
        start = time.perf_counter()
        ids = search(q)
        times.append((time.perf_counter() - start) * 1e3)
        runs.append(ids)
    return times, runs


def latency_summary(times: list[float]) -> dict:
    """Median and 95th percentile of per-query latencies (ms)."""
    return {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}


def overlap(runs: list[list], exact_top10: list[list]) -> float:
    """Mean over queries of |run's top 10 ∩ exact top 10| / 10."""
    found = [len(set(r[:10]) & set(e)) / 10 for r, e in zip(runs, exact_top10, strict=True)]
    return float(np.mean(found))


class Quality:
    """nDCG@10 / Recall@100 of rankings given in query order, and overlap with exact top 10."""

    def __init__(self, query_ids: list[str], exact_top10: list[list] | None = None) -> None:
        self.query_ids = query_ids
        self.qrels = scifact.qrels("test")
        self.exact_top10 = exact_top10

    def run(self, rankings: list[list]) -> dict[str, list[str]]:
        """``{query id: [document id, ...]}`` for the metrics module."""
        return {q: [str(d) for d in r] for q, r in zip(self.query_ids, rankings, strict=True)}

    def ndcg10(self, rankings: list[list]) -> float:
        return metrics.ndcg(self.run(rankings), self.qrels, 10)

    def recall100(self, rankings: list[list]) -> float:
        return metrics.recall(self.run(rankings), self.qrels, 100)

    def found(self, rankings: list[list]) -> float:
        return overlap(rankings, self.exact_top10)


# --------------------------------------------------------------------------------------------
# Exact brute force
# --------------------------------------------------------------------------------------------


def exact_baseline(emb: scifact.Embeddings, quality: Quality) -> dict:
    """search_exact over float32 Documents: top 10 and top 100, single-thread latency."""
    docs = li.Documents((emb.doc_vectors, emb.doc_offsets))
    ids = emb.doc_ids

    def search(q: np.ndarray) -> list[str]:
        _, idx = li.search_exact(q, docs, k=10, threads=1)
        return [ids[j] for j in idx[0]]

    times, top10 = one_at_a_time(search, emb.query_vectors)
    with Clock() as c:
        _, idx100 = li.search_exact(emb.query_vectors, docs, k=100)
    top100 = [[ids[j] for j in row] for row in idx100]
    quality.exact_top10 = top10
    return {
        "bytes": emb.doc_vectors.nbytes + emb.doc_offsets.nbytes,
        **latency_summary(times),
        "qps": len(top100) / c.seconds,
        "ndcg10": quality.ndcg10(top10),
        "recall100": quality.recall100(top100),
        "found": 1.0,
    }


# --------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------


def build(emb: scifact.Embeddings, path: Path, *, nbits: int, threads: int, seed: int = 0) -> dict:
    """Index.create from the packed embeddings; time, size and stats."""
    with Clock() as c:
        li.Index.create(
            path,
            (emb.doc_vectors, emb.doc_offsets),
            ids=emb.doc_ids,
            nbits=nbits,
            seed=seed,
            threads=threads,
        )
    size = dir_bytes(path)
    stats = li.Index.open(path).stats()
    return {
        "build_s": c.seconds,
        "build_cpu_wait": c.cpu_wait,
        "bytes": size,
        "bytes_per_token": size / len(emb.doc_vectors),
        "stats": stats,
    }


def single_thread(index, queries: np.ndarray, quality: Quality, **params) -> dict:
    """One query per call, ``threads=1``, k=10: latency, nDCG@10, exact top-10 found."""

    def search(q: np.ndarray) -> list:
        return top_ids(index.search(q, k=10, threads=1, **params)[0])

    with Clock() as c:
        times, runs = one_at_a_time(search, queries)
    return {
        **latency_summary(times),
        "cpu_wait": c.cpu_wait,
        "ndcg10": quality.ndcg10(runs),
        "found": quality.found(runs),
    }


def batched(index, queries: np.ndarray, quality: Quality) -> dict:
    """Every query in one call on every core: throughput at k=10, Recall@100 at k=100."""
    index.search(queries[:2], k=10)  # warm-up
    with Clock() as c:
        index.search(queries, k=10)
    top100 = [top_ids(h) for h in index.search(queries, k=100)]
    return {"qps": len(queries) / c.seconds, "recall100": quality.recall100(top100)}


def peak_rss(path: Path, query_file: Path) -> dict:
    """Peak RSS of a fresh process that imports lateint_ref, loads the queries, opens the index
    and searches every query in one call (k=10, every core)."""
    cmd = [sys.executable, __file__, "--rss-worker", str(path), "--queries", str(query_file)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def rss_worker(path: Path, query_file: Path) -> None:
    """The process measured by ``peak_rss``; prints its RSS figures as JSON."""
    queries = np.load(query_file)
    before = vm_hwm()
    index = li.Index.open(path)
    index.search(queries, k=10)
    peak = vm_hwm()
    print(json.dumps({"before_open": before, "peak": peak, "query_bytes": queries.nbytes}))


def same_files(a: Path, b: Path) -> bool:
    """Whether two index folders hold byte-identical files of the same names."""
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def measure_index(emb: scifact.Embeddings, quality: Quality, tmp: Path, query_file: Path) -> dict:
    """Everything about lateint-ref's index (nbits 2, 1, 4; sweep; exhaustive; RSS)."""
    out: dict = {}
    path2 = tmp / "nbits2"
    out["main"] = build(emb, path2, nbits=2, threads=BUILD_THREADS)
    one = build(emb, tmp / "nbits2-1thread", nbits=2, threads=1)
    out["main"]["build_1t_s"] = one["build_s"]
    out["main"]["identical_1t"] = same_files(path2, tmp / "nbits2-1thread")
    index = li.Index.open(path2)
    out["main"] |= single_thread(index, emb.query_vectors, quality)
    out["main"] |= batched(index, emb.query_vectors, quality)
    out["main"]["rss"] = peak_rss(path2, query_file)
    out["exhaustive"] = single_thread(index, emb.query_vectors, quality, exhaustive=True)
    out["sweep"] = {
        (p, r): single_thread(index, emb.query_vectors, quality, nprobe=p, rescore=r)
        for p in NPROBE
        for r in RESCORE
    }
    out["candidates"] = {
        c: single_thread(index, emb.query_vectors, quality, candidates=c) for c in CANDIDATES
    }
    for nbits in (1, 4):
        path = tmp / f"nbits{nbits}"
        r = build(emb, path, nbits=nbits, threads=BUILD_THREADS)
        r |= single_thread(li.Index.open(path), emb.query_vectors, quality)
        out[f"nbits{nbits}"] = r
    # The k-means seed alone moves nDCG@10 by about as much as the nbits=2 target allows.
    out["seeds"] = {0: out["main"]}
    for seed in SEEDS:
        path = tmp / f"seed{seed}"
        r = build(emb, path, nbits=2, threads=BUILD_THREADS, seed=seed)
        r |= single_thread(li.Index.open(path), emb.query_vectors, quality)
        out["seeds"][seed] = r
        shutil.rmtree(path)
    return out


# --------------------------------------------------------------------------------------------
# fast-plaid (peers venv)
# --------------------------------------------------------------------------------------------


def fastplaid(emb: scifact.Embeddings, quality: Quality, *, rerun: bool) -> dict | None:
    """fast-plaid's results (cached beside the embeddings unless ``rerun``), with quality
    computed here by the same metrics; None without a peers venv."""
    if not PEERS.exists():
        return None
    cached = emb.path / "fastplaid.json"
    measured = rerun or not cached.exists()
    if measured:
        script = Path(__file__).resolve().parent / "peers_fastplaid.py"
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        env = os.environ | {"HF_HUB_OFFLINE": "1"}
        cmd = [str(PEERS), str(script), "--embeddings", str(emb.path), "--out", str(tmp)]
        subprocess.run(cmd, check=True, env=env)
        tmp.rename(cached)
    raw = json.loads(cached.read_text())
    rows = {}
    for name, s in raw["settings"].items():
        top10 = [s["run_top10"][q] for q in quality.query_ids]
        top100 = [s["run_top100"][q] for q in quality.query_ids]
        rows[name] = {
            "params": s["params"],
            **latency_summary(s["latency_ms"]),
            "cpu_wait": s.get("latency_cpu_wait"),
            "qps": len(top100) / s["batch_seconds"],
            "ndcg10": quality.ndcg10(top10),
            "recall100": quality.recall100(top100),
            "found": quality.found(top10),
            "rss": s["latency_peak_rss_bytes"],
            "idmap_ms": s["idmap_load_ms"],
        }
    return {"measured": measured, "raw": raw, "rows": rows}


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path)
    parser.add_argument("--cache", type=Path, default=scifact.DEFAULT_CACHE)
    parser.add_argument("--model", choices=list(scifact.MODELS), default=scifact.DEFAULT_MODEL)
    parser.add_argument("--rerun-peers", action="store_true", help="measure fast-plaid again")
    parser.add_argument("--no-peers", action="store_true", help="leave fast-plaid out")
    parser.add_argument("--rss-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_worker:
        rss_worker(args.rss_worker, args.queries)
        return
    start = time.perf_counter()
    emb = scifact.load(args.cache, args.model)
    quality = Quality(emb.query_ids)
    print("exact baseline", file=sys.stderr)
    exact = exact_baseline(emb, quality)
    peers = None if args.no_peers else fastplaid(emb, quality, rerun=args.rerun_peers)
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        query_file = Path(tmp) / "queries.npy"
        np.save(query_file, emb.query_vectors)
        print("index", file=sys.stderr)
        ours = measure_index(emb, quality, Path(tmp), query_file)
    text = index_report.report(emb, args.model, exact, ours, peers, time.perf_counter() - start)
    write_report(text, args.output)


if __name__ == "__main__":
    main()
