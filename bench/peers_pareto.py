"""fast-plaid and WARP for the Pareto comparison (bench/bench_pareto.py); runs in the peers venv
(``$HOME/peers``, see ../shared/PEERS.md), never in the project's.

One phase per process, on the packed vectors of an embedding cache entry (bench/embeddings.py),
so that every engine indexes the same token embeddings:

* ``build``: fast-plaid 1.4.6 (``fast_plaid.search.FastPlaid(device="cpu", low_memory=False)
  .create``, with PyLate 1.6.0's ``indexes.PLAID`` build defaults, which are fast-plaid's:
  kmeans_niters=4, max_points_per_centroid=256, seed=42) or WARP (xtr-warp-rs 2.1,
  ``XTRWarp.create(device="cpu")``, its defaults) at the given nbits, on the threads that the
  caller's ``OMP_NUM_THREADS`` names (``torch.set_num_threads`` too);
* ``search``: opens the index, then for each setting one query per call on one thread
  (``torch.set_num_threads(1)``, fast-plaid ``n_processes=1``, WARP ``num_threads=1``), k=10,
  after three warm-up calls: per-query latencies (wall and process CPU, ms) and top-10
  rankings (document positions, best first); build: wall and process CPU seconds.

fast-plaid is called directly rather than through ``pylate.indexes.PLAID``, whose ``__call__``
reloads its pickled id maps on every call (about 1 ms on SciFact, bench/results/index.md);
positions are the order of the documents given to ``create``, as PyLate numbers them.

    ~/peers/bin/python bench/peers_pareto.py --engine fastplaid --nbits 2 --phase build \\
        --embeddings CACHE_ENTRY --index DIR --out result.json
    ~/peers/bin/python bench/peers_pareto.py --engine warp --nbits 4 --phase search \\
        --settings '{"defaults": {}, "nprobe8": {"nprobe": 8}}' ... --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import dir_bytes, vm_hwm
from peers_fastplaid import load_embeddings

WARMUP = 3
K = 10


def _torch(threads: int):
    """torch with ``threads`` intra-op threads."""
    import torch

    torch.set_num_threads(threads)
    return torch


def build(engine: str, nbits: int, folder: Path, index_dir: Path) -> dict:
    """Builds the index at ``index_dir`` (which must not exist); its time and size."""
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch = _torch(threads)
    docs, _, _, _ = load_embeddings(folder)
    tensors = [torch.from_numpy(d) for d in docs]
    cpu0, start = time.process_time(), time.perf_counter()
    if engine == "fastplaid":
        from fast_plaid import search

        index = search.FastPlaid(index=str(index_dir), device="cpu", low_memory=False)
        index.create(documents_embeddings=tensors, nbits=nbits)
    else:
        from xtr_warp import XTRWarp

        XTRWarp(index=str(index_dir)).create(
            tensors, device="cpu", nbits=nbits, show_progress=False
        )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {
        "build_seconds": seconds,
        "build_cpu_seconds": cpu,
        "bytes": dir_bytes(index_dir),
        "build_threads": threads,
    }


def _fastplaid_search(index_dir: Path):
    """``(search(query, params) -> positions, resolved(params) -> params)`` for fast-plaid."""
    from fast_plaid import search

    index = search.FastPlaid(index=str(index_dir), device="cpu", low_memory=False)
    defaults = {"n_ivf_probe": 8, "n_full_scores": 4096}  # FastPlaid.search's own

    def run(q, params: dict) -> list[int]:
        hits = index.search(
            queries_embeddings=q, top_k=K, show_progress=False, n_processes=1, **params
        )
        return [int(p) for p, _ in hits[0]]

    return run, lambda params: defaults | params


def _warp_search(index_dir: Path, probe_query):
    """As ``_fastplaid_search`` for WARP; an explicit ``nprobe`` gets WARP's own rule for the
    centroids scored, ``bound = max(8 * nprobe, bound of the defaults)``, unless given."""
    from xtr_warp import XTRWarp

    index = XTRWarp(index=str(index_dir))
    index.load(device="cpu")
    names = ("bound", "nprobe", "centroid_score_threshold", "max_candidates", "t_prime")
    auto = dict(zip(names, index.optimize_hyperparams(K, probe_query), strict=True))

    def resolved(params: dict) -> dict:
        out = dict(params)
        if "nprobe" in out and "bound" not in out:
            out["bound"] = max(8 * out["nprobe"], auto["bound"])
        return auto | out

    def run(q, params: dict) -> list[int]:
        hits = index.search(q, top_k=K, num_threads=1, show_progress=False, **resolved(params))
        return [int(p) for p, _ in hits[0]]

    return run, resolved


def search(
    engine: str, folder: Path, index_dir: Path, settings: dict[str, dict], n_queries: int | None
) -> dict:
    """Each setting: one query per call on one thread after warm-up calls; latencies and
    top-10 positions, in query order, for the first ``n_queries`` queries (default all)."""
    torch = _torch(1)
    _, queries, _, _ = load_embeddings(folder)
    qs = [torch.from_numpy(q)[None] for q in queries[:n_queries]]
    if engine == "fastplaid":
        run, resolved = _fastplaid_search(index_dir)
    else:
        run, resolved = _warp_search(index_dir, qs[0])
    out = {}
    for name, params in settings.items():
        for q in qs[:WARMUP]:
            run(q, params)
        times, cpu, top10 = [], [], []
        for q in qs:
            c0, start = time.process_time(), time.perf_counter()
            ids = run(q, params)
            times.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
            top10.append(ids)
        out[name] = {"params": resolved(params), "latency_ms": times, "cpu_ms": cpu, "top10": top10}
        med = sorted(times)[len(times) // 2]
        print(f"  {engine} {name}: median {med:.2f} ms", file=sys.stderr, flush=True)
    return {"settings": out, "search_peak_rss_bytes": vm_hwm()}


def versions() -> dict:
    """The peers' package versions."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for d in ("torch", "fast-plaid", "xtr-warp-rs", "pylate"):
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("fastplaid", "warp"))
    parser.add_argument("--nbits", type=int)
    parser.add_argument("--phase", choices=("build", "search", "versions"), required=True)
    parser.add_argument("--embeddings", type=Path, help="an embeddings.py cache entry")
    parser.add_argument("--index", type=Path)
    parser.add_argument("--settings", default="{}", help="JSON {name: search parameters}")
    parser.add_argument("--queries", type=int, help="the first N queries (default all)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.phase == "versions":
        r = versions()
    elif args.phase == "build":
        r = build(args.engine, args.nbits, args.embeddings, args.index)
    else:
        settings = json.loads(args.settings)
        r = search(args.engine, args.embeddings, args.index, settings, args.queries)
    args.out.write_text(json.dumps(r))


if __name__ == "__main__":
    main()
