"""fast-plaid through PyLate 1.6.0 on cached SciFact embeddings; runs in the peers venv
(``$HOME/peers``, see ../shared/PEERS.md), never in the project's.

Builds ``pylate.indexes.PLAID`` (fast-plaid backend, its defaults: nbits=4, kmeans_niters=4,
seed=42) from the packed document vectors of a ``bench/scifact.py`` cache entry, so that quality
differences with lateint-ref's index come from the index alone, then searches the test queries
with PyLate's own call (``index(query, k)``, which also loads PyLate's pickled id maps):

* one query at a time on one thread (``torch.set_num_threads(1)`` and ``OMP_NUM_THREADS=1``
  set before torch loads), k=10: per-query latencies and the top-10 rankings;
* all queries in one call on every core, k=100: throughput and the top-100 rankings.

for each setting: PyLate's defaults (``n_ivf_probe=8, n_full_scores=8192``) and
``n_ivf_probe=4, n_full_scores=256``. Each phase runs in its own process (the build on every
core); the results, rankings included (SciFact document ids, best first), go to one JSON file.

    ~/peers/bin/python bench/peers_fastplaid.py --embeddings CACHE_ENTRY --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure
from measure import vm_hwm

SETTINGS = {
    "default": {"n_ivf_probe": 8, "n_full_scores": 8192},
    "probe4-full256": {"n_ivf_probe": 4, "n_full_scores": 256},
}


def load_embeddings(folder: Path) -> tuple[list, list, list, list[str]]:
    """``(documents, queries, document ids, query ids)`` from a cache entry; documents are
    ``[n_tokens_j, dim] f32`` arrays, queries ``[q_len, dim] f32`` arrays."""
    import numpy as np

    vectors = np.load(folder / "doc_vectors.npy")
    offsets = np.load(folder / "doc_offsets.npy")
    queries = np.load(folder / "query_vectors.npy")
    meta = json.loads((folder / "meta.json").read_text())
    docs = [vectors[offsets[j] : offsets[j + 1]] for j in range(len(offsets) - 1)]
    return docs, list(queries), meta["doc_ids"], meta["query_ids"]


def plaid(index_dir: Path, setting: dict, *, override: bool):
    """PyLate's PLAID index (fast-plaid backend) at ``index_dir``, on the CPU."""
    from pylate import indexes

    return indexes.PLAID(
        index_folder=str(index_dir.parent),
        index_name=index_dir.name,
        override=override,
        device="cpu",
        show_progress=False,
        **setting,
    )


def phase_build(folder: Path, index_dir: Path) -> dict:
    """Builds the index on every core; returns its time and size."""
    docs, _, doc_ids, _ = load_embeddings(folder)
    start = time.perf_counter()
    plaid(index_dir, SETTINGS["default"], override=True).add_documents(
        documents_ids=doc_ids, documents_embeddings=docs
    )
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    return {"build_seconds": seconds, "bytes_on_disk": size}


def phase_latency(folder: Path, index_dir: Path, name: str) -> dict:
    """One query per call, one thread, k=10: latencies (ms) and top-10 rankings."""
    import torch

    torch.set_num_threads(1)
    _, queries, _, query_ids = load_embeddings(folder)
    index = plaid(index_dir, SETTINGS[name], override=False)
    index(queries[:1], k=10)  # warm-up: loads the index
    times, run = [], {}
    for qid, q in zip(query_ids, queries, strict=True):
        start = time.perf_counter()
        hits = index(q[None], k=10)[0]
        times.append((time.perf_counter() - start) * 1e3)
        run[qid] = [h["id"] for h in hits]
    start = time.perf_counter()
    index._index._load_plaid_ids_to_documents_ids()
    index._index._load_documents_ids_to_plaid_ids()
    idmap_ms = (time.perf_counter() - start) * 1e3
    return {"latency_ms": times, "run_top10": run, "idmap_load_ms": idmap_ms}


def phase_batch(folder: Path, index_dir: Path, name: str) -> dict:
    """Every query in one call on every core (PyLate's defaults), k=100: throughput, rankings."""
    _, queries, _, query_ids = load_embeddings(folder)
    index = plaid(index_dir, SETTINGS[name], override=False)
    index(queries[:1], k=100)  # warm-up
    start = time.perf_counter()
    hits = index(queries, k=100)
    seconds = time.perf_counter() - start
    run = {qid: [h["id"] for h in hs] for qid, hs in zip(query_ids, hits, strict=True)}
    return {"batch_seconds": seconds, "run_top100": run}


def run_phase(args: argparse.Namespace, phase: str, name: str, threads: int | None) -> dict:
    """One phase of setting ``name`` in a fresh process of this script (``measure.run_phase``)."""
    cmd = [sys.executable, __file__, "--embeddings", str(args.embeddings)]
    cmd += ["--index", str(args.index), "--phase", phase, "--setting", name]
    return measure.run_phase(cmd, phase, threads)


def orchestrate(args: argparse.Namespace) -> dict:
    """Build, then per setting the single-thread latency run and the batched run."""
    import pylate
    import torch

    result = {
        "pylate": pylate.__version__,
        "torch": torch.__version__,
        "fast_plaid": _version("fast-plaid"),
        "embeddings": args.embeddings.name,
        "cores": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print("fast-plaid: building (minutes)", file=sys.stderr)
    result |= run_phase(args, "build", "default", None)
    print(f"fast-plaid: built in {result['build_seconds']:.1f} s", file=sys.stderr)
    result["settings"] = {}
    for name, setting in SETTINGS.items():
        r = {"params": setting}
        r |= run_phase(args, "latency", name, 1)
        r |= run_phase(args, "batch", name, None)
        med = sorted(r["latency_ms"])[len(r["latency_ms"]) // 2]
        print(f"fast-plaid {name}: median {med:.1f} ms/query (1 thread)", file=sys.stderr)
        result["settings"][name] = r
    return result


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", type=Path, required=True, help="a scifact.py cache entry")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--index", type=Path, help="index folder (default: a temporary one)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        fn = {"build": phase_build, "latency": phase_latency, "batch": phase_batch}[args.phase]
        extra = () if args.phase == "build" else (args.setting,)
        r = fn(args.embeddings, args.index, *extra)
        r[f"{args.phase}_peak_rss_bytes"] = vm_hwm()
        args.out.write_text(json.dumps(r))
        return
    tmp = None
    if args.index is None:
        tmp = Path(tempfile.mkdtemp(prefix="fastplaid-"))
        args.index = tmp / "scifact"
    try:
        result = orchestrate(args)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
