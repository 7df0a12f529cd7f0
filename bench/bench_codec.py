"""Codec fidelity on SciFact: how much of exact MaxSim's top 10 the index finds, at nbits 1, 2 and
4 (seed 0) and over k-means seeds 0..4 at nbits 2, with the build time and the bytes per token.

Usage: ``.venv/bin/python bench/bench_codec.py [--output bench/results/codec.md]``. The embeddings
are bench/scifact.py's cache; the exact top 10 comes from ``search_exact`` over them. To compare
with an earlier format version, run the same script at an earlier commit (its results printed
beside the current ones in BENCHMARKS.md name the commit).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import scifact
from measure import cpu_memory

import lateint_ref as li

SETTINGS = [(1, 0, True), (2, 0, True), (4, 0, True), *((2, s, False) for s in range(1, 5))]


def found(hits: list, exact: np.ndarray) -> float:
    """Mean over queries of |top 10 found| / 10."""
    return float(np.mean([len(set(h.ids) & set(e)) / 10 for h, e in zip(hits, exact, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    emb = scifact.load()
    packed = (np.ascontiguousarray(emb.doc_vectors), emb.doc_offsets)
    queries = [q for q in emb.query_vectors]
    _, exact = li.search_exact(queries, li.Documents(packed), k=10)
    rows = []
    for nbits, seed, full in SETTINGS:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index = li.Index.create(Path(tmp) / "i", packed, nbits=nbits, seed=seed, progress=False)
            build = time.perf_counter() - start
            ex = found(index.search(queries, 10, exhaustive=True), exact) if full else None
            start = time.perf_counter()
            hits = index.search(queries, 10, threads=1)
            ms = (time.perf_counter() - start) / len(queries) * 1e3
            rows.append(
                (
                    nbits,
                    seed,
                    index.format_version,
                    build,
                    index.stats()["bytes_per_token"],
                    ex,
                    found(hits, exact),
                    ms,
                )
            )
            print(rows[-1], flush=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        "# Codec fidelity on SciFact",
        "",
        f"- command: `.venv/bin/python bench/bench_codec.py --output bench/results/codec.md`"
        f" at commit {commit}",
        f"- machine: {cpu_memory()}",
        "- exact top-10 found: mean over the 300 test queries of |index top 10 ∩ exact top 10|"
        " / 10; ms/query: the 300 queries in one call on one thread, divided by 300",
        "",
        "| nbits | seed | format | build s (2 thr) | bytes/token | found, exhaustive | found,"
        " defaults | ms/query |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for nbits, seed, version, build, bpt, ex, default, ms in rows:
        shown = "-" if ex is None else f"{100 * ex:.1f}%"
        lines.append(
            f"| {nbits} | {seed} | {version} | {build:.1f} | {bpt:.2f} | {shown} |"
            f" {100 * default:.1f}% | {ms:.2f} |"
        )
    two = [r[6] for r in rows if r[0] == 2]
    lines += ["", f"nbits=2 over seeds 0..4: mean found {100 * np.mean(two):.1f}%."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
