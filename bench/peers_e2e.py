"""PyLate 1.6.0's whole SciFact job, texts to rankings; runs in the peers venv (``$HOME/peers``,
see ../shared/PEERS.md), never in the project's.

``models.ColBERT(MODEL)`` (the PyLate folder ``bench/scifact.py`` calls ``pylate-seed0``) encodes
the corpus (every core, ``batch_size=32``), ``indexes.PLAID`` (fast-plaid backend, its defaults:
nbits=4, kmeans_niters=4, seed=42, n_ivf_probe=8, n_full_scores=8192) indexes it, then
``retrieve.ColBERT(index).retrieve`` answers the test queries, query encoding included:

* one query at a time on one thread (``torch.set_num_threads(1)`` and ``OMP_NUM_THREADS=1`` set
  before torch loads), k=10: per-query encoding and retrieval times and the top-10 rankings;
* all queries at once on every core (``model.encode`` of every query, then one ``retrieve``),
  k=100: times and the top-100 rankings.

Each phase runs in its own process; the results, rankings included (SciFact document ids, best
first), go to one JSON file. ``INPUTS`` is a JSON file ``{"doc_ids", "doc_texts", "query_ids",
"query_texts"}`` written by ``bench/bench_e2e.py`` (so both sides read the same texts).

    HF_HUB_OFFLINE=1 ~/peers/bin/python bench/peers_e2e.py --model DIR --inputs INPUTS --out R
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
from measure import dir_bytes, vm_hwm

ENCODE_BATCH = 32


def load_model(model: Path):
    """PyLate's ColBERT from ``model`` on the CPU, and the seconds it took to load."""
    from pylate import models

    start = time.perf_counter()
    m = models.ColBERT(model_name_or_path=str(model), device="cpu")
    return m, time.perf_counter() - start


def plaid(index_dir: Path, *, override: bool):
    """PyLate's PLAID index (fast-plaid backend, defaults) at ``index_dir``, on the CPU."""
    from pylate import indexes

    return indexes.PLAID(
        index_folder=str(index_dir.parent),
        index_name=index_dir.name,
        override=override,
        device="cpu",
        show_progress=False,
    )


def phase_encode(args: argparse.Namespace) -> dict:
    """Encodes the corpus on every core; saves the ``[n_tokens_j, 128] f32`` documents packed
    beside the index folder for the build phase."""
    import numpy as np

    inputs = json.loads(args.inputs.read_text())
    model, load_s = load_model(args.model)
    start = time.perf_counter()
    docs = model.encode(
        inputs["doc_texts"], is_query=False, batch_size=ENCODE_BATCH, show_progress_bar=False
    )
    seconds = time.perf_counter() - start
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=offsets[1:])
    np.save(args.work / "doc_vectors.npy", np.vstack(docs).astype(np.float32))
    np.save(args.work / "doc_offsets.npy", offsets)
    return {"model_load_seconds": load_s, "encode_seconds": seconds, "n_tokens": int(offsets[-1])}


def phase_build(args: argparse.Namespace) -> dict:
    """Builds the index on every core from the encoded documents; its time and size."""
    import numpy as np

    inputs = json.loads(args.inputs.read_text())
    vectors = np.load(args.work / "doc_vectors.npy")
    offsets = np.load(args.work / "doc_offsets.npy")
    docs = [vectors[offsets[j] : offsets[j + 1]] for j in range(len(offsets) - 1)]
    start = time.perf_counter()
    plaid(args.work / "index", override=True).add_documents(
        documents_ids=inputs["doc_ids"], documents_embeddings=docs
    )
    seconds = time.perf_counter() - start
    return {"build_seconds": seconds, "bytes_on_disk": dir_bytes(args.work / "index")}


def phase_latency(args: argparse.Namespace) -> dict:
    """One query per call on one thread, k=10: encoding and retrieval times (ms) of each query,
    and the top-10 rankings."""
    import torch
    from pylate import retrieve

    torch.set_num_threads(1)
    inputs = json.loads(args.inputs.read_text())
    model, _ = load_model(args.model)
    retriever = retrieve.ColBERT(index=plaid(args.work / "index", override=False))

    def one(text: str) -> tuple[list, float, float]:
        t0 = time.perf_counter()
        q = model.encode([text], is_query=True, show_progress_bar=False)
        t1 = time.perf_counter()
        hits = retriever.retrieve(queries_embeddings=q, k=10)[0]
        t2 = time.perf_counter()
        return [h["id"] for h in hits], (t1 - t0) * 1e3, (t2 - t1) * 1e3

    one(inputs["query_texts"][0])  # warm-up: loads the index
    encode_ms, search_ms, run = [], [], {}
    for qid, text in zip(inputs["query_ids"], inputs["query_texts"], strict=True):
        ids, e, s = one(text)
        encode_ms.append(e)
        search_ms.append(s)
        run[qid] = ids
    return {"encode_ms": encode_ms, "search_ms": search_ms, "run_top10": run}


def phase_batch(args: argparse.Namespace) -> dict:
    """Every query at once on every core, k=100: encoding and retrieval seconds, rankings."""
    from pylate import retrieve

    inputs = json.loads(args.inputs.read_text())
    model, _ = load_model(args.model)
    retriever = retrieve.ColBERT(index=plaid(args.work / "index", override=False))
    warm = model.encode(inputs["query_texts"][:1], is_query=True, show_progress_bar=False)
    retriever.retrieve(queries_embeddings=warm, k=100)  # warm-up: loads the index
    start = time.perf_counter()
    q = model.encode(
        inputs["query_texts"], is_query=True, batch_size=ENCODE_BATCH, show_progress_bar=False
    )
    mid = time.perf_counter()
    hits = retriever.retrieve(queries_embeddings=q, k=100)
    end = time.perf_counter()
    run = {qid: [h["id"] for h in hs] for qid, hs in zip(inputs["query_ids"], hits, strict=True)}
    return {
        "batch_encode_seconds": mid - start,
        "batch_search_seconds": end - mid,
        "run_top100": run,
    }


PHASES = {
    "encode": phase_encode,
    "build": phase_build,
    "latency": phase_latency,
    "batch": phase_batch,
}


def run_phase(args: argparse.Namespace, phase: str, threads: int | None) -> dict:
    """One phase in a fresh process of this script (``measure.run_phase``)."""
    cmd = [sys.executable, __file__, "--model", str(args.model), "--inputs", str(args.inputs)]
    return measure.run_phase([*cmd, "--work", str(args.work), "--phase", phase], phase, threads)


def orchestrate(args: argparse.Namespace) -> dict:
    """Encode, build, single-thread latency run, batched run."""
    from importlib.metadata import version

    import pylate
    import torch

    result = {
        "pylate": pylate.__version__,
        "torch": torch.__version__,
        "fast_plaid": version("fast-plaid"),
        "sentence_transformers": version("sentence-transformers"),
        "cores": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    steps = (("encode", None), ("build", None), ("latency", 1), ("batch", None))
    for phase, threads in steps:
        print(f"pylate e2e: {phase} (minutes)", file=sys.stderr, flush=True)
        result |= run_phase(args, phase, threads)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a PyLate model folder")
    parser.add_argument("--inputs", type=Path, required=True, help="texts and ids (JSON)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        r = PHASES[args.phase](args)
        r[f"{args.phase}_peak_rss_bytes"] = vm_hwm()
        args.out.write_text(json.dumps(r))
        return
    tmp = None
    if args.work is None:
        tmp = args.work = Path(tempfile.mkdtemp(prefix="pylate-e2e-"))
    try:
        result = orchestrate(args)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
