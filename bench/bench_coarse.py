"""Coarse-to-fine centroid assignment (R-KMEANS-6) against exact assignment (R-KMEANS-4): build
time on the synthetic collection of bench_index_scale.py, the share of tokens whose centroid
differs, and SciFact's share of the exact top 10 found (nbits 2, seed 0, exhaustive and at the
defaults).

R-KMEANS-6 applies from format version 4, so the rule new indexes get depends on the build of the
extension: run this once with the committed extension (exact for new indexes, version 3) and once
with one built with ``COARSE_FROM_VERSION = 3`` (every new index coarse); each run prints one row
per measurement, labelled with the rule it found. The mismatch share needs neither: it calls
``_native.assign_centroids`` with version 2 (exact) and 4 (coarse) on the same centroids.

    .venv/bin/python bench/bench_coarse.py [--tokens 2000000] [--centroids 16384] [--skip-scale]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_index_scale as scale
import scifact

import lateint_ref as li
from lateint_ref import _native


def rule() -> str:
    """``"coarse"`` when a new index (format version 3 here) assigns by R-KMEANS-6."""
    c = np.eye(4096, 8, dtype=np.float32)
    return "coarse" if _native.assign_centroids(c[:1], c, 3)[1] is not None else "exact"


def found(hits: list, exact: np.ndarray) -> float:
    """Mean over queries of |top 10 found| / 10, in percent."""
    return 100 * float(
        np.mean([len(set(h.ids) & set(e)) / 10 for h, e in zip(hits, exact, strict=True)])
    )


def mismatch(x: np.ndarray, centroids: np.ndarray) -> tuple[float, float, float]:
    """``(% of tokens whose coarse centroid is not the exact one, exact s, coarse s)``."""
    t = time.perf_counter()
    exact, _ = _native.assign_centroids(x, centroids, 2, threads=2)
    te = time.perf_counter() - t
    t = time.perf_counter()
    coarse, _ = _native.assign_centroids(x, centroids, 4, threads=2)
    tc = time.perf_counter() - t
    return 100 * float(np.mean(exact != coarse)), te, tc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=float, default=2e6)
    parser.add_argument("--centroids", type=int, default=16384)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-scifact", action="store_true")
    args = parser.parse_args()
    label = rule()
    if not args.skip_scifact:
        emb = scifact.load()
        packed = (np.ascontiguousarray(emb.doc_vectors), emb.doc_offsets)
        queries = list(emb.query_vectors)
        _, exact = li.search_exact(queries, li.Documents(packed), k=10)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index = li.Index.create(Path(tmp) / "i", packed, nbits=2, seed=0, threads=2)
            build = time.perf_counter() - start
            ex = found(index.search(queries, 10, exhaustive=True), exact)
            de = found(index.search(queries, 10), exact)
            mis, te, tc = mismatch(packed[0], np.ascontiguousarray(index.centroids))
            print(
                f"| SciFact | {label} | K {index.n_centroids} | build {build:.1f} s | "
                f"found exhaustive {ex:.2f}% | defaults {de:.2f}% | mismatch {mis:.2f}% | "
                f"assign exact {te:.1f} s coarse {tc:.1f} s |",
                flush=True,
            )
    if not args.skip_scale:
        vectors, offsets, _ = scale.collection(int(args.tokens), 0)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index = li.Index.create(
                Path(tmp) / "i",
                (vectors, offsets),
                nbits=2,
                seed=0,
                n_centroids=args.centroids,
                threads=2,
            )
            build = time.perf_counter() - start
            mis, te, tc = mismatch(vectors[:200_000], np.ascontiguousarray(index.centroids))
            print(
                f"| synthetic {len(vectors)} tokens | {label} | K {index.n_centroids} | "
                f"build {build:.1f} s | mismatch (200k tokens) {mis:.2f}% | "
                f"assign 200k exact {te:.1f} s coarse {tc:.1f} s |",
                flush=True,
            )


if __name__ == "__main__":
    main()
