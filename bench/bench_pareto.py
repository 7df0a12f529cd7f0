"""Quality against latency, every CPU engine side by side: lateint-ref's index, fast-plaid, WARP
and exact MaxSim on the same token embeddings of a BEIR collection (SciFact, Cranfield, Vaswani).

For one collection, in one run (the machine's load changes over minutes, so every engine's
latency is measured in the same run as the others'):

* embeddings: ``bench/embeddings.py`` (cached; MiniLM + PyLate's seed-0 projection, float32);
* exact: ``search_exact`` over float32 ``Documents``: the reference top 10;
* lateint-ref: ``Index.create`` at nbits 2 and 4 (2 threads), then a sweep of ``nprobe``,
  ``candidates``, ``rescore`` and ``exhaustive`` (``SWEEP``), defaults named;
* fast-plaid 1.4.6 at nbits 2 and 4 (``low_memory=False``) over ``FASTPLAID`` settings, and WARP
  (xtr-warp-rs 2.1) at its default nbits 4 over ``WARP`` settings, each phase a process of
  ``bench/peers_pareto.py`` in the peers venv; their indexes are built on 2 threads once and
  cached under ``~/.cache/lateint-ref/peers/`` (``--rebuild-peers`` builds them again).

Every point: one query per call on one thread after warm-up calls, k=10, every judged query
(``--queries N``: the first N); p50 and p95 wall latency and p50 process CPU time (ms), the share
of the exact top 10 found (mean over queries) and nDCG@10
(``bench/metrics.py``: lateint_ref.evaluation, trec_eval's definitions). The figures of each
collection are kept in ``~/.cache/lateint-ref/pareto/<collection>.json``; every run rewrites the
report from those of all collections measured so far, and the plots
``<plots>/pareto_<collection>.png`` (two panels against p50 CPU latency on a log axis, one curve
per engine and nbits, its Pareto front drawn as a line; ``pareto_report.py`` says why CPU time).

    .venv/bin/python bench/bench_pareto.py --collection cranfield \\
        [--output bench/results/pareto.md] [--plots bench/results] [--rebuild-peers] [--no-peers]
    .venv/bin/python bench/bench_pareto.py --report-only --output bench/results/pareto.md
    .venv/bin/python bench/bench_pareto.py --build-peers --collection scifact  # cache only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import embeddings
import measure
import metrics
import pareto_report
from measure import Clock, dir_bytes

import lateint_ref as li

HERE = Path(__file__).resolve().parent
PEERS = Path(os.environ.get("PEERS_VENV", Path.home() / "peers")) / "bin" / "python"
PEERS_CACHE = embeddings.CACHE_ROOT / "peers"
RESULTS_CACHE = embeddings.CACHE_ROOT / "pareto"
BUILD_THREADS = 2
NBITS = (2, 4)
K = 10
WARMUP = 3

# lateint-ref: (name, search parameters); "defaults" passes none (R-ISEARCH-3's rule).
SWEEP = [
    ("defaults", {}),
    *(
        (f"nprobe={p} rescore={r}", {"nprobe": p, "rescore": r})
        for p in (1, 2, 4, 8, 16)
        for r in (32, 64, 128, 256, 512)
    ),
    *((f"candidates={c}", {"candidates": c}) for c in (256, 1024, 2048)),
    ("nprobe=16 candidates=2048 rescore=1024", {"nprobe": 16, "candidates": 2048, "rescore": 1024}),
    ("exhaustive", {"exhaustive": True}),
]
# fast-plaid: 8/4096 is FastPlaid.search's default, 8/8192 PyLate's indexes.PLAID default.
FASTPLAID = {
    "probe2 full64": {"n_ivf_probe": 2, "n_full_scores": 64},
    "probe2 full256": {"n_ivf_probe": 2, "n_full_scores": 256},
    "probe4 full256": {"n_ivf_probe": 4, "n_full_scores": 256},
    "probe4 full1024": {"n_ivf_probe": 4, "n_full_scores": 1024},
    "probe8 full1024": {"n_ivf_probe": 8, "n_full_scores": 1024},
    "fast-plaid default (probe8 full4096)": {"n_ivf_probe": 8, "n_full_scores": 4096},
    "PyLate default (probe8 full8192)": {"n_ivf_probe": 8, "n_full_scores": 8192},
}
# WARP: its defaults are tuned per index and query (xtr_warp.hyperparams.optimize).
WARP = {
    "defaults": {},
    "nprobe=8": {"nprobe": 8},
    "nprobe=16": {"nprobe": 16},
}
PEER_SETTINGS = {"fastplaid": FASTPLAID, "warp": WARP}
# WARP at its default nbits only: its CPU build is the slowest here (minutes per 256 documents).
PEER_NBITS = {"fastplaid": NBITS, "warp": (4,)}


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def overlap(runs: list[list], exact_top10: list[list]) -> float:
    """Mean over queries of |top 10 ∩ exact top 10| / 10."""
    found = [len(set(r[:K]) & set(e)) / K for r, e in zip(runs, exact_top10, strict=True)]
    return float(np.mean(found))


class Scorer:
    """Turns one setting's latencies and rankings (document ids, query order) into a point."""

    def __init__(self, emb: embeddings.Embeddings, qrels: dict) -> None:
        self.query_ids = emb.query_ids
        self.qrels = qrels
        self.exact_top10: list[list] | None = None

    def point(self, times: list[float], cpu: list[float], runs: list[list], **extra) -> dict:
        """``times``: wall ms per query; ``cpu``: the process's CPU ms per query."""
        run = {q: [str(d) for d in r] for q, r in zip(self.query_ids, runs, strict=True)}
        exact = self.exact_top10 if self.exact_top10 is not None else runs
        return {
            "p50_ms": statistics.median(times),
            "p95_ms": float(np.percentile(times, 95)),
            "p50_cpu_ms": statistics.median(cpu),
            "overlap": overlap(runs, exact),
            "ndcg10": metrics.ndcg(run, self.qrels, K),
            **extra,
        }


def one_at_a_time(search, queries: np.ndarray) -> tuple[list[float], list[float], list[list]]:
    """``search(query)`` for each ``[q_len, dim]`` query after warm-up calls: wall and process
    CPU latencies (ms; the CPU time of a one-thread search hardly depends on other load) and
    rankings."""
    for q in queries[:WARMUP]:
        search(q)
    times, cpu, runs = [], [], []
    for q in queries:
        c0, start = time.process_time(), time.perf_counter()
        ids = search(q)
        times.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
        runs.append(ids)
    return times, cpu, runs


def exact(emb: embeddings.Embeddings, scorer: Scorer) -> dict:
    """Brute force MaxSim over float32 ``Documents``, one thread; sets the reference top 10."""
    docs = li.Documents((emb.doc_vectors, emb.doc_offsets))
    ids = emb.doc_ids

    def search(q: np.ndarray) -> list[str]:
        _, idx = li.search_exact(q, docs, k=K, threads=1)
        return [ids[j] for j in idx[0]]

    with Clock() as c:
        times, cpu, runs = one_at_a_time(search, emb.query_vectors)
    scorer.exact_top10 = runs
    size = emb.doc_vectors.nbytes + emb.doc_offsets.nbytes
    point = scorer.point(times, cpu, runs, cpu_wait=c.cpu_wait)
    return {"build_s": 0.0, "bytes_per_token": size / len(emb.doc_vectors), "points": {"": point}}


def ours(emb: embeddings.Embeddings, scorer: Scorer, nbits: int, tmp: Path) -> dict:
    """lateint-ref's index at ``nbits``: build on 2 threads, then every ``SWEEP`` setting."""
    path = tmp / f"nbits{nbits}"
    cpu0 = time.process_time()
    with Clock() as c:
        index = li.Index.create(
            path,
            (emb.doc_vectors, emb.doc_offsets),
            ids=emb.doc_ids,
            nbits=nbits,
            threads=BUILD_THREADS,
            progress=False,
        )
    out = {
        "build_s": c.seconds,
        "build_cpu_s": time.process_time() - cpu0,
        "build_cpu_wait": c.cpu_wait,
        "bytes_per_token": dir_bytes(path) / len(emb.doc_vectors),
        "defaults": index.search_defaults(K),
        "n_centroids": index.n_centroids,
        "points": {},
    }
    for name, params in SWEEP:

        def search(q: np.ndarray, params=params) -> list:
            return list(index.search(q, k=K, threads=1, **params)[0].ids)

        with Clock() as c:
            times, cpu, runs = one_at_a_time(search, emb.query_vectors)
        out["points"][name] = scorer.point(times, cpu, runs, params=params, cpu_wait=c.cpu_wait)
        p = out["points"][name]
        print(f"  lateint-ref nbits={nbits} {name}: {p['p50_ms']:.2f} ms", file=sys.stderr)
    shutil.rmtree(path)
    return out


def peer_phase(engine: str, nbits: int, phase: str, emb: embeddings.Embeddings, index_dir: Path):
    """One phase of bench/peers_pareto.py in the peers venv (build on 2 threads, search on 1,
    the first ``len(emb.query_ids)`` queries of the cache entry)."""
    cmd = [str(PEERS), str(HERE / "peers_pareto.py"), "--engine", engine, "--nbits", str(nbits)]
    cmd += ["--phase", phase, "--embeddings", str(emb.path), "--index", str(index_dir)]
    if phase == "search":
        cmd += ["--settings", json.dumps(PEER_SETTINGS[engine])]
        cmd += ["--queries", str(len(emb.query_ids))]
    return measure.run_phase(cmd, phase, BUILD_THREADS if phase == "build" else 1)


def peer_record(engine: str, nbits: int, emb: embeddings.Embeddings, coll: str) -> Path:
    """The file of a cached peer index's build figures, beside its folder (minus ``.json``)."""
    return PEERS_CACHE / f"{coll}-{emb.key}" / f"{engine}-nbits{nbits}.json"


def peer_index(
    engine: str, nbits: int, emb: embeddings.Embeddings, coll: str, rebuild: bool
) -> tuple[Path, dict]:
    """A peer's index folder at ``nbits`` and its build figures; built when not cached."""
    record = peer_record(engine, nbits, emb, coll)
    folder = record.parent
    index_dir = record.with_suffix("")
    if rebuild or not record.exists():
        record.unlink(missing_ok=True)
        shutil.rmtree(index_dir, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{coll}: {engine} nbits={nbits}: building", file=sys.stderr, flush=True)
        r = peer_phase(engine, nbits, "build", emb, index_dir)
        r["built_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        record.write_text(json.dumps(r))  # written last: its presence means a complete index
    return index_dir, json.loads(record.read_text())


def peer(
    engine: str, nbits: int, emb: embeddings.Embeddings, coll: str, scorer: Scorer, rebuild: bool
) -> dict:
    """A peer's index at ``nbits`` (built once, cached with its build figures), then its
    settings searched in one process."""
    index_dir, built = peer_index(engine, nbits, emb, coll, rebuild)
    print(f"{engine} nbits={nbits}: searching", file=sys.stderr, flush=True)
    r = peer_phase(engine, nbits, "search", emb, index_dir)
    ids = emb.doc_ids
    points = {}
    for name, s in r["settings"].items():
        runs = [[ids[p] for p in row] for row in s["top10"]]
        points[name] = scorer.point(
            s["latency_ms"], s["cpu_ms"], runs, params=s["params"], cpu_wait=r["search_cpu_wait"]
        )
    return {
        "build_s": built["build_seconds"],
        "build_cpu_s": built.get("build_cpu_seconds"),
        "build_cpu_wait": built.get("build_cpu_wait"),
        "built_at": built["built_at"],
        "bytes_per_token": built["bytes"] / len(emb.doc_vectors),
        "rss_bytes": r["search_peak_rss_bytes"],
        "points": points,
    }


def peer_versions() -> dict:
    """The peers venv's package versions."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.json"
        cmd = [str(PEERS), str(HERE / "peers_pareto.py"), "--phase", "versions", "--out", str(out)]
        subprocess.run(cmd, check=True)
        return json.loads(out.read_text())


def measure_collection(
    name: str, *, peers: bool, rebuild: bool, cached_only: bool, n_queries: int | None
) -> dict:
    """Every engine on one collection, in one run: on its first ``n_queries`` judged queries
    (default all); with ``cached_only``, the peers whose index is not built yet are left out
    (and named in ``"not_measured"``)."""
    start = time.perf_counter()
    coll = embeddings.COLLECTIONS[name]
    emb = embeddings.load(coll)
    n_judged = len(emb.query_ids)
    if n_queries is not None:
        emb = dataclasses.replace(
            emb, query_vectors=emb.query_vectors[:n_queries], query_ids=emb.query_ids[:n_queries]
        )
    scorer = Scorer(emb, embeddings.qrels(coll))
    engines: dict[str, dict] = {}
    print(f"{name}: exact", file=sys.stderr, flush=True)
    engines["exact MaxSim"] = {"engine": "exact MaxSim", "nbits": None, **exact(emb, scorer)}
    with tempfile.TemporaryDirectory(prefix="bench-pareto-") as tmp:
        for nbits in NBITS:
            print(f"{name}: lateint-ref nbits={nbits}", file=sys.stderr, flush=True)
            engines[f"lateint-ref nbits={nbits}"] = {
                "engine": "lateint-ref",
                "nbits": nbits,
                **ours(emb, scorer, nbits, Path(tmp)),
            }
    versions, not_measured = {}, []
    if peers and PEERS.exists():
        versions = peer_versions()
        for engine, label in (("fastplaid", "fast-plaid"), ("warp", "WARP")):
            for nbits in PEER_NBITS[engine]:
                if cached_only and not peer_record(engine, nbits, emb, name).exists():
                    not_measured.append(f"{label} nbits={nbits}")
                    continue
                engines[f"{label} nbits={nbits}"] = {
                    "engine": label,
                    "nbits": nbits,
                    **peer(engine, nbits, emb, name, scorer, rebuild),
                }
    return {
        "collection": name,
        "n_docs": len(emb.doc_ids),
        "n_tokens": len(emb.doc_vectors),
        "n_queries": len(emb.query_ids),
        "n_judged_queries": n_judged,
        "not_measured": not_measured,
        "embeddings": emb.key,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "run_seconds": time.perf_counter() - start,
        "machine": measure.cpu_memory(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "lateint_ref": li.__version__,
        "peers": versions,
        "engines": engines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", action="append", choices=list(embeddings.COLLECTIONS))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "pareto.md")
    parser.add_argument("--plots", type=Path, default=HERE / "results")
    parser.add_argument("--rebuild-peers", action="store_true", help="build peers' indexes again")
    parser.add_argument("--no-peers", action="store_true", help="leave fast-plaid and WARP out")
    parser.add_argument(
        "--cached-peers-only", action="store_true", help="leave out peers not built yet"
    )
    parser.add_argument("--queries", type=int, help="the first N judged queries (default all)")
    parser.add_argument("--build-peers", action="store_true", help="only build peers' indexes")
    parser.add_argument("--report-only", action="store_true", help="rewrite from kept figures")
    args = parser.parse_args()
    RESULTS_CACHE.mkdir(parents=True, exist_ok=True)
    if args.build_peers:
        for name in args.collection or list(embeddings.COLLECTIONS):
            emb = embeddings.load(embeddings.COLLECTIONS[name])
            for engine, all_nbits in PEER_NBITS.items():
                for nbits in all_nbits:
                    peer_index(engine, nbits, emb, name, args.rebuild_peers)
        return
    if not args.report_only:
        for name in args.collection or list(embeddings.COLLECTIONS):
            r = measure_collection(
                name,
                peers=not args.no_peers,
                rebuild=args.rebuild_peers,
                cached_only=args.cached_peers_only,
                n_queries=args.queries,
            )
            tmp = RESULTS_CACHE / f"{name}.json.tmp"
            tmp.write_text(json.dumps(r))
            tmp.rename(RESULTS_CACHE / f"{name}.json")
    results = [
        json.loads((RESULTS_CACHE / f"{n}.json").read_text())
        for n in embeddings.COLLECTIONS
        if (RESULTS_CACHE / f"{n}.json").exists()
    ]
    for r in results:
        pareto_report.plot(r, args.plots / f"pareto_{r['collection']}.png")
    measure.write_report(pareto_report.report(results), args.output)


if __name__ == "__main__":
    main()
