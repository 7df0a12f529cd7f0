"""The whole SciFact job end to end, texts to rankings: lateint-ref's ``Retriever`` (float32 and
bfloat16 encoding) side by side with PyLate 1.6.0 (its encoder + fast-plaid) in the same run.

Model: all-MiniLM-L6-v2 with PyLate 1.6.0's seed-0 128-d projection (``pylate-seed0`` of
``bench/scifact.py``, rebuilt into a temporary PyLate folder that both sides load).

* ours: ``Retriever.build`` from the 5,183 texts (every core, one chunk: encoding, then
  ``Index.create`` with nbits=2; ``on_chunk`` marks the boundary between the two), then the 300
  test queries: all at once on every core with k=100 (``search(texts)``: the job's query stage,
  Recall@100), and one at a time on one thread (``torch.set_num_threads(1)``, ``threads=1``, k=10:
  latency with query encoding, nDCG@10) and again from precomputed embeddings
  (``search_embeddings``: latency without it);
* PyLate: ``bench/peers_e2e.py`` in the peers venv (``$HOME/peers``): the same stages through
  ``models.ColBERT``, ``indexes.PLAID`` (defaults) and ``retrieve.ColBERT``; about 15 minutes on 2
  cores, so its result is cached beside the SciFact embeddings (``--rerun-peers`` measures again).

Quality: ``lateint_ref.evaluation`` (trec_eval's definitions) on ``qrels/test.tsv``.

    .venv/bin/python bench/bench_e2e.py [--output bench/results/e2e.md] [--cache DIR]
        [--rerun-peers] [--no-peers]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scifact
from measure import Clock, cpu_memory, dir_bytes, write_report

import lateint_ref as li
from lateint_ref.evaluation import evaluate

PEERS = Path(os.environ.get("PEERS_VENV", Path.home() / "peers")) / "bin" / "python"
MODEL = "pylate-seed0"
PRECISIONS = ("float32", "bfloat16")
COMMIT_EVERY = 1 << 20  # SciFact in one chunk: encode everything, then build once
SPEEDUP_TARGET = 1.5
LATENCY_TARGET_MS = 20.0
PEER_STAGES = ("encode", "build", "latency", "batch")
CPU_WAIT_WARN = 0.2
REFERENCE_DOCS_PER_S = 31  # PyLate's encoding speed on this machine, ../shared/data/README.md


# --------------------------------------------------------------------------------------------
# Inputs and quality
# --------------------------------------------------------------------------------------------


class Job:
    """The SciFact texts and test judgments both sides work from."""

    def __init__(self, n_docs: int | None = None) -> None:
        self.doc_ids, self.doc_texts = scifact.corpus()
        if n_docs is not None:  # a smoke test on the first documents
            self.doc_ids, self.doc_texts = self.doc_ids[:n_docs], self.doc_texts[:n_docs]
        self.query_ids, self.query_texts = scifact.test_queries()
        self.qrels = scifact.qrels("test")

    def write(self, path: Path) -> None:
        """The texts as the JSON file ``bench/peers_e2e.py`` reads."""
        inputs = {
            "doc_ids": self.doc_ids,
            "doc_texts": self.doc_texts,
            "query_ids": self.query_ids,
            "query_texts": self.query_texts,
        }
        path.write_text(json.dumps(inputs))

    def quality(self, top10: dict, top100: dict) -> dict:
        """nDCG@10 of ``{query id: Hits}`` at k=10 and Recall@100 of the k=100 run."""
        ndcg = evaluate(top10, self.qrels, ["ndcg@10"])["ndcg@10"]
        recall = evaluate(top100, self.qrels, ["recall@100"])["recall@100"]
        return {"ndcg10": ndcg, "recall100": recall}


def summary(times: list[float]) -> dict:
    """Median, 95th percentile and mean of per-query times (ms)."""
    return {
        "median_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
        "mean_ms": statistics.fmean(times),
    }


# --------------------------------------------------------------------------------------------
# lateint-ref
# --------------------------------------------------------------------------------------------


def ours(job: Job, model: Path, precision: str, index_dir: Path) -> dict:
    """Build from texts, the batched query run and the single-thread latency runs."""
    marks: list[float] = []
    pairs = list(zip(job.doc_ids, job.doc_texts, strict=True))
    with Clock() as build:
        r = li.Retriever.build(
            index_dir,
            model,
            pairs,
            commit_every=COMMIT_EVERY,
            precision=precision,
            progress=False,
            on_chunk=lambda ids, vectors: marks.append(time.perf_counter()),
        )
    (encoded,) = marks
    out = {
        "encode_s": encoded - build.start,
        "build_s": build.start + build.seconds - encoded,
        "index_s": build.seconds,
        "index_cpu_wait": build.cpu_wait,
        "bytes": dir_bytes(index_dir),
    }
    r.search(job.query_texts[:2], k=100)  # warm-up
    with Clock() as batch:
        hits100 = r.search(job.query_texts, k=100)
    out |= {"queries_s": batch.seconds, "queries_cpu_wait": batch.cpu_wait}
    out["job_s"] = out["index_s"] + out["queries_s"]
    top100 = dict(zip(job.query_ids, hits100, strict=True))
    threads = torch_threads(1)
    try:
        with Clock() as single:
            out |= one_at_a_time(job, r)
        out["latency_cpu_wait"] = single.cpu_wait
    finally:
        torch_threads(threads)
    out |= job.quality(out.pop("top10"), top100)
    return out


def torch_threads(n: int) -> int:
    """Sets torch's intra-op threads (the encoder's); returns the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


def one_at_a_time(job: Job, r: li.Retriever) -> dict:
    """Each query alone on one thread, k=10, after a warm-up: ``search(text)`` (encoding
    included), ``encoder.encode([text])`` (encoding alone) and ``search_embeddings`` (without
    encoding); latencies and the top-10 hits of the text run."""
    texts = job.query_texts
    r.search(texts[0], k=10, threads=1)
    with_enc, enc, without, top10, embeddings = [], [], [], {}, []
    for qid, text in zip(job.query_ids, texts, strict=True):
        start = time.perf_counter()
        (hits,) = r.search(text, k=10, threads=1)
        with_enc.append((time.perf_counter() - start) * 1e3)
        top10[qid] = hits
    for text in texts:
        start = time.perf_counter()
        (q,) = r.encoder.encode([text], is_query=True)
        enc.append((time.perf_counter() - start) * 1e3)
        embeddings.append(q)
    for q in embeddings:
        start = time.perf_counter()
        r.search_embeddings(q, k=10, threads=1)
        without.append((time.perf_counter() - start) * 1e3)
    return {
        "with_encoding": summary(with_enc),
        "encoding": summary(enc),
        "without_encoding": summary(without),
        "top10": top10,
    }


# --------------------------------------------------------------------------------------------
# PyLate (peers venv)
# --------------------------------------------------------------------------------------------


def pylate(job: Job, model: Path, cache: Path, tmp: Path, *, rerun: bool) -> dict | None:
    """PyLate's job (cached in ``cache`` unless ``rerun``) with its quality computed here by the
    same evaluation; None without a peers venv."""
    if not PEERS.exists():
        return None
    cached = cache / "pylate_e2e.json"
    measured = rerun or not cached.exists()
    if measured:
        print("PyLate: the whole job in the peers venv (about 15 minutes)", file=sys.stderr)
        cache.mkdir(parents=True, exist_ok=True)
        inputs = tmp / "inputs.json"
        job.write(inputs)
        script = Path(__file__).resolve().parent / "peers_e2e.py"
        out = cached.with_suffix(f".tmp{os.getpid()}")
        cmd = [str(PEERS), str(script), "--model", str(model), "--inputs", str(inputs)]
        cmd += ["--out", str(out)]
        subprocess.run(cmd, check=True, env=os.environ | {"HF_HUB_OFFLINE": "1"})
        out.rename(cached)
    raw = json.loads(cached.read_text())
    top10 = {q: _ranked(ids) for q, ids in raw["run_top10"].items()}
    top100 = {q: _ranked(ids) for q, ids in raw["run_top100"].items()}
    with_enc = [e + s for e, s in zip(raw["encode_ms"], raw["search_ms"], strict=True)]
    encode_s = raw["model_load_seconds"] + raw["encode_seconds"]
    queries_s = raw["batch_encode_seconds"] + raw["batch_search_seconds"]
    return {
        "measured": measured,
        "raw": raw,
        "encode_s": encode_s,
        "build_s": raw["build_seconds"],
        "index_s": encode_s + raw["build_seconds"],
        "queries_s": queries_s,
        "job_s": encode_s + raw["build_seconds"] + queries_s,
        "bytes": raw["bytes_on_disk"],
        "with_encoding": summary(with_enc),
        "encoding": summary(raw["encode_ms"]),
        "without_encoding": summary(raw["search_ms"]),
        **job.quality(top10, top100),
    }


def _ranked(ids: list[str]) -> dict[str, float]:
    """A ranking as scores ``n, n - 1, ..., 1`` (as ``bench/metrics.py``), so its order holds."""
    return {d: float(len(ids) - r) for r, d in enumerate(ids)}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def stage_table(results: dict[str, dict], n_docs: int, n_queries: int) -> list[str]:
    """One row per stage or figure, one column per system."""
    names = list(results)
    peer = results.get("PyLate 1.6.0 + fast-plaid")
    lines = [
        "| | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]

    def row(label: str, cell) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results.values()) + " |")

    row("encode corpus, s (model load included)", lambda r: f"{r['encode_s']:.1f}")
    row("documents encoded per second", lambda r: f"{n_docs / r['encode_s']:.0f}")
    row("build index, s", lambda r: f"{r['build_s']:.1f}")
    row("**total indexing**, s", lambda r: f"**{r['index_s']:.1f}**")
    row(
        f"{n_queries} queries at once (encoding included, k=100), s",
        lambda r: f"{r['queries_s']:.1f}",
    )
    row("**whole job**, s", lambda r: f"**{r['job_s']:.1f}**")
    row(
        f"{n_queries} queries one per call, 1 thread (encoding included, k=10), sum, s",
        lambda r: f"{r['with_encoding']['mean_ms'] * n_queries / 1e3:.1f}",
    )
    if peer:
        row("whole job, speed-up vs PyLate", lambda r: f"{peer['job_s'] / r['job_s']:.1f}x")
    row("index on disk, MiB (ours: stored texts included)", lambda r: f"{r['bytes'] / 2**20:.1f}")
    row("nDCG@10 (one query per call, k=10)", lambda r: f"{r['ndcg10']:.4f}")
    row("Recall@100 (the batch, k=100)", lambda r: f"{r['recall100']:.4f}")
    for key, label in (
        ("with_encoding", "query latency with encoding"),
        ("encoding", "query encoding alone"),
        ("without_encoding", "query latency without encoding"),
    ):
        row(
            f"{label}, median / p95 ms (1 thread)",
            lambda r, key=key: f"{r[key]['median_ms']:.2f} / {r[key]['p95_ms']:.2f}",
        )
    return lines


def checks(ours_runs: dict[str, dict], peer: dict | None) -> list[tuple[str, str, str, bool]]:
    """(check, value, target, passed) for each target of issue 5."""
    out = []
    for name, r in ours_runs.items():
        if peer:
            ratio = peer["job_s"] / r["job_s"]
            out.append(
                (
                    f"{name}: whole job speed-up vs PyLate, nDCG@10",
                    f"{ratio:.1f}x, {r['ndcg10']:.4f} vs {peer['ndcg10']:.4f}",
                    f">= {SPEEDUP_TARGET}x, nDCG >=",
                    ratio >= SPEEDUP_TARGET and r["ndcg10"] >= peer["ndcg10"],
                )
            )
        lat = r["with_encoding"]
        out.append(
            (
                f"{name}: query latency with encoding, median (p95), 1 thread",
                f"{lat['median_ms']:.2f} ({lat['p95_ms']:.2f}) ms",
                f"< {LATENCY_TARGET_MS:.0f} ms",
                lat["median_ms"] < LATENCY_TARGET_MS,
            )
        )
    return out


def peer_notes(peer: dict) -> list[str]:
    """Where PyLate's numbers come from."""
    raw = peer["raw"]
    when = "measured in this run" if peer["measured"] else "cached result, not remeasured"
    waits = ", ".join(f"{p} {fmt(raw.get(f'{p}_cpu_wait'), '.0%')}" for p in PEER_STAGES)
    return [
        f"PyLate: **{when}** (measured {raw['measured_at']}; `--rerun-peers` measures again); "
        f"PyLate {raw['pylate']}, sentence-transformers {raw['sentence_transformers']}, "
        f"fast-plaid {raw['fast_plaid']}, torch {raw['torch']}. `models.ColBERT(folder)` "
        f"(loaded in {raw['model_load_seconds']:.1f} s, counted in its encoding) encodes with "
        "`batch_size=32`; `indexes.PLAID` defaults (nbits=4, kmeans_niters=4, seed=42, "
        "n_ivf_probe=8, n_full_scores=8192); queries through `retrieve.ColBERT(index).retrieve`, "
        "after `model.encode(..., is_query=True)`. Each stage runs in its own process, every "
        "core except the one-thread latency run (`torch.set_num_threads(1)`, "
        f"`OMP_NUM_THREADS=1`). CPU wait by stage: {waits}.",
        "",
    ]


def contention_note(peer: dict, n_docs: int) -> list[str]:
    """A warning when some PyLate stage waited for a CPU (other load) much of the time, with its
    whole job recomputed at the reference encoding speed of ../shared/data/README.md."""
    raw = peer["raw"]
    busy = [p for p in PEER_STAGES if (raw.get(f"{p}_cpu_wait") or 0) > CPU_WAIT_WARN]
    if not busy:
        return []
    reference_encode = n_docs / REFERENCE_DOCS_PER_S
    job = reference_encode + peer["build_s"] + peer["queries_s"]
    return [
        f"**Warning**: PyLate's {', '.join(busy)} stage(s) waited for a CPU more than "
        f"{CPU_WAIT_WARN:.0%} of the time, so those times may be inflated. At the "
        f"{REFERENCE_DOCS_PER_S} docs/s PyLate encodes at in ../shared/data/README.md, its "
        f"encoding would take {reference_encode:.0f} s and its whole job {job:.0f} s.",
        "",
    ]


def report(
    job: Job, runs: dict, peer: dict | None, total_s: float, cache_key: str, why_no_peer: str
) -> str:
    """The markdown report; ``why_no_peer`` says why PyLate is missing when ``peer`` is None."""
    results = dict(runs)
    if peer:
        results["PyLate 1.6.0 + fast-plaid"] = peer
    import torch

    n_docs, n_queries = len(job.doc_ids), len(job.query_ids)
    waits = "; ".join(
        f"{name}: indexing {fmt(r['index_cpu_wait'], '.0%')}, queries "
        f"{fmt(r['queries_cpu_wait'], '.0%')}, latency runs {fmt(r['latency_cpu_wait'], '.0%')}"
        for name, r in runs.items()
    )
    lines = [
        "# End to end: SciFact, texts to rankings",
        "",
        f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"- machine: {cpu_memory()}; Python {platform.python_version()}, numpy "
        f"{np.__version__}, torch {torch.__version__}, lateint_ref {li.__version__}",
        f"- date: {datetime.date.today().isoformat()}; total run time {total_s:.0f} s",
        f"- collection: SciFact, {n_docs:,} documents (title and text joined as BEIR), "
        f"{n_queries} test queries, `qrels/test.tsv`; model `{MODEL}` (all-MiniLM-L6-v2 + "
        "PyLate's seed-0 128-d projection, `bench/scifact.py`), the same PyLate folder for both; "
        f"SciFact cache entry `{cache_key}`",
        "- ours: `Retriever.build` (torch backend, `precision` as named, nbits=2, seed 0, every "
        "core, one chunk; encoding ends when `on_chunk` is called, building is the rest, texts "
        "written included); queries: `search(all texts, k=100)` on every core; latency: "
        "`search(text, k=10, threads=1)` per query with `torch.set_num_threads(1)` after a "
        "warm-up, and `search_embeddings` on the same queries encoded beforehand",
        "- whole job = encode corpus + build index + the 300 queries at once (encoding "
        "included); nDCG@10 from the one-query-per-call k=10 run, Recall@100 from the batch "
        "(`lateint_ref.evaluation`, trec_eval's definitions). Exact MaxSim over float32 with "
        "this model gives nDCG@10 0.6424 / Recall@100 0.8887 (../shared/data/README.md)",
        f"- CPU wait (share of wall time some task waited for a CPU; other load when well "
        f"above 0): {waits}",
        "",
        "## Stages",
        "",
        *stage_table(results, n_docs, n_queries),
        "",
    ]
    if peer:
        lines += peer_notes(peer)
        lines += contention_note(peer, n_docs)
    else:
        lines += [f"PyLate: left out ({why_no_peer}).", ""]
    lines += [
        "## Checks",
        "",
        "| check | value | target | result |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, value, target, ok in checks(runs, peer):
        lines.append(f"| {name} | {value} | {target} | {'PASS' if ok else 'MISS'} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path)
    parser.add_argument("--cache", type=Path, default=scifact.DEFAULT_CACHE)
    parser.add_argument("--rerun-peers", action="store_true", help="measure PyLate again")
    parser.add_argument("--no-peers", action="store_true", help="leave PyLate out")
    parser.add_argument("--docs", type=int, help=argparse.SUPPRESS)  # smoke test, no peers
    args = parser.parse_args()
    start = time.perf_counter()
    job = Job(args.docs)
    key = scifact.cache_key(MODEL)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        model = scifact.pylate_minilm(Path(tmp) / "pylate-minilm-seed0")
        peer = None
        if not args.no_peers and args.docs is None:
            peer = pylate(job, model, args.cache / key, Path(tmp), rerun=args.rerun_peers)
        runs = {}
        for precision in PRECISIONS:
            print(f"lateint-ref, {precision}", file=sys.stderr)
            runs[f"ours {precision}"] = ours(job, model, precision, Path(tmp) / precision)
    why = "`--no-peers`" if args.no_peers or args.docs else f"no peers venv at {PEERS}"
    text = report(job, runs, peer, time.perf_counter() - start, key, why)
    write_report(text, args.output)


if __name__ == "__main__":
    main()
