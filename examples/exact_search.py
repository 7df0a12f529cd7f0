"""Exact late-interaction search on generated data (the first demo of this project).

Builds 10,000 documents of 50-300 token embeddings (dim 128, clustered like real ColBERT
embeddings), makes 64 queries by perturbing 32 tokens of known documents, then searches them
exactly with float32 and bfloat16 storage, and prints results, agreement and throughput.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import lateint_ref as li
from lateint_ref import _native


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm, as float32."""
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def corpus(rng: np.random.Generator, n_docs: int, dim: int) -> list[np.ndarray]:
    """Documents whose tokens scatter (noise of norm about 0.5) around 8 of 1,024 shared
    'topic' directions each, as ColBERT token embeddings cluster around a few centroids."""
    centres = unit(rng.standard_normal((1024, dim)))
    lengths = rng.integers(50, 301, size=n_docs)
    docs = []
    for start in range(0, n_docs, 1000):
        chunk = lengths[start : start + 1000]
        owner = np.repeat(np.arange(len(chunk)), chunk)
        topics = rng.integers(0, 1024, size=(len(chunk), 8))
        tokens = centres[topics[owner, rng.integers(0, 8, size=len(owner))]]
        tokens += rng.standard_normal(tokens.shape, dtype=np.float32) * np.float32(0.5 / dim**0.5)
        docs += np.split(unit(tokens), np.cumsum(chunk)[:-1])
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    dim, q_len = 128, 32

    t0 = time.perf_counter()
    docs = corpus(rng, args.docs, dim)
    sources = rng.choice(args.docs, size=args.queries, replace=False)
    queries = []
    for s in sources:
        picked = docs[s][rng.choice(len(docs[s]), size=q_len)]
        queries.append(unit(picked + (0.4 / dim**0.5) * rng.standard_normal((q_len, dim))))
    t_gen = time.perf_counter() - t0

    t0 = time.perf_counter()
    store = li.Documents(docs)
    store_bf16 = li.Documents(docs, storage="bfloat16")
    t_store = time.perf_counter() - t0
    print(
        f"lateint-ref {li.__version__}  kernels: {', '.join(_native.available_isas())}"
        f"  bf16 dot: {_native.has_bf16_dot()}  cores: {os.cpu_count()}"
    )
    print(
        f"corpus: {len(store):,} documents, {store.n_tokens:,} tokens x {dim}  "
        f"(generated in {t_gen:.1f} s, stored in {t_store:.2f} s: "
        f"{store.nbytes / 2**20:.0f} MiB f32, {store_bf16.nbytes / 2**20:.0f} MiB bf16)"
    )

    flop_per_query = 2 * q_len * store.n_tokens * dim
    print("\nsearch (exact MaxSim over every document, top 10):")
    print(f"{'storage':<9}{'threads':>8}{'ms/query':>10}{'GFLOP/s':>9}{'docs/s':>13}")
    results = {}
    for name, target in (("float32", store), ("bfloat16", store_bf16)):
        for threads in (1, None):
            li.search_exact(queries[:2], target, k=10, threads=threads)  # warm-up
            t0 = time.perf_counter()
            scores, indices = li.search_exact(queries, target, k=10, threads=threads)
            dt = (time.perf_counter() - t0) / len(queries)
            results[name] = (scores, indices)
            label = threads or os.cpu_count()
            print(
                f"{name:<9}{label:>8}{dt * 1e3:>10.2f}{flop_per_query / dt / 1e9:>9.1f}"
                f"{len(store) / dt:>13,.0f}"
            )

    scores, indices = results["float32"]
    found = int((indices[:, 0] == sources).sum())
    print(f"\nthe source document ranks first for {found}/{len(queries)} queries")
    for qi in range(2):
        top = ", ".join(
            f"{d} ({s:.2f})" for d, s in zip(indices[qi, :5], scores[qi, :5], strict=False)
        )
        print(f"query {qi} (made from document {sources[qi]}): top 5 = {top}")

    b_indices = results["bfloat16"][1]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, b_indices, strict=False)])
    print(f"bfloat16 top-10 overlap with float32: {overlap:.1%}")

    # Spot check against NumPy in float64 (R-MAXSIM-1).
    q = queries[0].astype(np.float64)
    want = np.array([(q @ docs[d].T.astype(np.float64)).max(1).sum() for d in indices[0]])
    print(
        f"max |float32 - float64 NumPy| over query 0's top 10: {np.abs(scores[0] - want).max():.2e}"
    )


if __name__ == "__main__":
    main()
