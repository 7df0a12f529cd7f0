"""The index against collection size: synthetic clustered token embeddings of 10^5, 10^6 and 10^7
token vectors (dim 128).

Collection (seeded NumPy, float32, generated in chunks): 4096 random unit "topic" centres;
documents of 100..200 tokens (150 on average), each about 3 topics drawn for the document, every
token ``normalize(centre of one of its topics + N(0, 0.08^2) per component)`` (cosine about 0.74
to its centre). Queries: 32 tokens drawn the same way from the topics of a random document.

For each size: build time on 2 threads (``Index.create``, nbits 2, seed 0), bytes on disk,
single-thread latency at the defaults (one query per call, ``threads=1``, k=10), the share of the
exact top 10 found (``search_exact`` on every core over a subset of the queries: brute force
costs 2 * 32 * 128 FLOP per query per token), and the peak RSS of a fresh process that opens the
index and searches every query in one call.

    .venv/bin/python bench/bench_index_scale.py [--max-tokens 10000000]
        [--output bench/results/index_scale.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import cpu_memory, dir_bytes, vm_hwm, write_report

import lateint_ref as li

DIM = 128
TOPICS = 4096
TOPICS_PER_DOC = 3
DOC_LEN = (100, 200)
Q_LEN = 32
NOISE = 0.08
SIZES = (10**5, 10**6, 10**7)
N_QUERIES = 200
CHUNK_TOKENS = 1 << 20
BUILD_THREADS = 2


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """``x`` ``[n, dim] f32`` with every row scaled to unit length, in place."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def draw_tokens(rng: np.random.Generator, centres: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """``[len(topics), DIM] f32``: ``normalize(centres[t] + noise)`` for each topic ``t``."""
    x = rng.standard_normal((len(topics), DIM), dtype=np.float32)
    x *= np.float32(NOISE)
    x += centres[topics]
    return normalize_rows(x)


def collection(n_tokens: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(vectors [n, DIM] f32, offsets [n_docs + 1] i64, doc_topics [n_docs, 3] i64)`` with
    about ``n_tokens`` tokens; generated a chunk of documents at a time."""
    rng = np.random.default_rng(seed)
    centres = normalize_rows(rng.standard_normal((TOPICS, DIM), dtype=np.float32))
    n_docs = max(1, round(n_tokens / np.mean(DOC_LEN)))
    lengths = rng.integers(DOC_LEN[0], DOC_LEN[1] + 1, size=n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    doc_topics = rng.integers(0, TOPICS, size=(n_docs, TOPICS_PER_DOC))
    vectors = np.empty((offsets[-1], DIM), dtype=np.float32)
    docs_per_chunk = max(1, CHUNK_TOKENS // DOC_LEN[1])
    for lo in range(0, n_docs, docs_per_chunk):
        hi = min(n_docs, lo + docs_per_chunk)
        owner = np.repeat(np.arange(lo, hi), lengths[lo:hi])
        pick = rng.integers(0, TOPICS_PER_DOC, size=len(owner))
        vectors[offsets[lo] : offsets[hi]] = draw_tokens(rng, centres, doc_topics[owner, pick])
    return vectors, offsets, doc_topics


def queries(doc_topics: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``[n, Q_LEN, DIM] f32``: each query's tokens drawn from the topics of a random document
    (same centres as ``collection(…, seed)``)."""
    rng = np.random.default_rng(seed)
    centres = normalize_rows(rng.standard_normal((TOPICS, DIM), dtype=np.float32))
    qrng = np.random.default_rng([seed, 1])
    source = qrng.integers(0, len(doc_topics), size=n)
    pick = qrng.integers(0, TOPICS_PER_DOC, size=(n, Q_LEN))
    topics = doc_topics[source[:, None], pick].reshape(-1)
    return draw_tokens(qrng, centres, topics).reshape(n, Q_LEN, DIM)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def latencies(index, qs: np.ndarray) -> tuple[list[float], list[list]]:
    """One query per call (``threads=1``, k=10) after a warm-up: ms per query and top-10 ids."""
    index.search(qs[0], k=10, threads=1)
    times, runs = [], []
    for q in qs:
        start = time.perf_counter()
        hits = index.search(q, k=10, threads=1)[0]
        times.append((time.perf_counter() - start) * 1e3)
        runs.append(list(hits.ids))
    return times, runs


def exact_top10(vectors: np.ndarray, offsets: np.ndarray, qs: np.ndarray) -> tuple[list, float]:
    """Brute-force top-10 document numbers of each query (every core) and seconds per query."""
    docs = li.Documents((vectors, offsets))
    start = time.perf_counter()
    _, idx = li.search_exact(qs, docs, k=10)
    return [list(map(int, row)) for row in idx], (time.perf_counter() - start) / len(qs)


def peak_rss(path: Path, query_file: Path) -> dict:
    """Peak RSS of a fresh process that loads the queries, opens the index and searches them."""
    cmd = [sys.executable, __file__, "--rss-worker", str(path), "--queries", str(query_file)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def rss_worker(path: Path, query_file: Path) -> None:
    """The process measured by ``peak_rss``; prints its RSS figures as JSON."""
    qs = np.load(query_file)
    before = vm_hwm()
    li.Index.open(path).search(qs, k=10)
    peak = vm_hwm()
    print(json.dumps({"before_open": before, "peak": peak, "query_bytes": qs.nbytes}))


def measure(n_tokens: int, tmp: Path, n_exact: int) -> dict:
    """Every figure for one collection size."""
    start = time.perf_counter()
    vectors, offsets, doc_topics = collection(n_tokens, seed=n_tokens)
    qs = queries(doc_topics, N_QUERIES, seed=n_tokens)
    gen_s = time.perf_counter() - start
    path = tmp / f"index-{n_tokens}"
    start = time.perf_counter()
    li.Index.create(path, (vectors, offsets), nbits=2, seed=0, threads=BUILD_THREADS)
    build_s = time.perf_counter() - start
    index = li.Index.open(path)
    times, runs = latencies(index, qs)
    exact, exact_s = exact_top10(vectors, offsets, qs[:n_exact])
    found = np.mean([len(set(r) & set(e)) / 10 for r, e in zip(runs, exact, strict=False)])
    np.save(tmp / "queries.npy", qs)
    return {
        "tokens": len(vectors),
        "docs": len(offsets) - 1,
        "k": index.n_centroids,
        "gen_s": gen_s,
        "build_s": build_s,
        "bytes": dir_bytes(path),
        "median_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
        "found": float(found),
        "n_exact": n_exact,
        "exact_ms": exact_s * 1e3,
        "rss": peak_rss(path, tmp / "queries.npy"),
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def machine() -> str:
    """CPU model, cores and memory, in one line."""
    return f"{cpu_memory()}; lateint_ref {li.__version__}"


def table(rows: list[dict]) -> list[str]:
    """Latency against collection size, one row per size."""
    lines = [
        "| tokens | docs | K | build s (2 thr) | MiB on disk | bytes/token | median ms (1 thr) "
        "| p95 ms | exact top-10 found | exact ms/query (all thr) | peak RSS MiB (before open) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        rss = r["rss"]
        lines.append(
            f"| {r['tokens']:,} | {r['docs']:,} | {r['k']:,} | {r['build_s']:.1f} | "
            f"{r['bytes'] / 2**20:.1f} | {r['bytes'] / r['tokens']:.1f} | {r['median_ms']:.2f} | "
            f"{r['p95_ms']:.2f} | {r['found']:.1%} ({r['n_exact']} q) | {r['exact_ms']:.1f} | "
            f"{rss['peak'] / 2**20:.0f} ({rss['before_open'] / 2**20:.0f}) |"
        )
    return lines


def report(rows: list[dict], total_s: float) -> str:
    """The markdown report."""
    lines = [
        "# Index benchmark: latency against collection size (synthetic)",
        "",
        f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"- machine: {machine()}",
        f"- date: {datetime.date.today().isoformat()}; total run time {total_s:.0f} s",
        f"- data: {TOPICS} unit topic centres in {DIM}-d; documents of {DOC_LEN[0]}..{DOC_LEN[1]} "
        f"tokens from {TOPICS_PER_DOC} topics each, tokens = normalize(centre + N(0, {NOISE}^2)); "
        f"{N_QUERIES} queries of {Q_LEN} tokens from the topics of a random document; seeded",
        "- index: nbits 2, search defaults (no nprobe, candidates or rescore passed); latency: "
        "one query per call, "
        "`threads=1`, k=10, after a warm-up; exact top-10 found: over the first queries "
        "(count in brackets), brute force on every core; peak RSS: a fresh process that loads "
        "the queries, opens the index and searches all of them in one call",
        "",
        *table(rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=float, default=SIZES[-1], help="largest size run")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--rss-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_worker:
        rss_worker(args.rss_worker, args.queries)
        return
    start = time.perf_counter()
    rows = []
    for n in (s for s in SIZES if s <= args.max_tokens):
        with tempfile.TemporaryDirectory(prefix="bench-index-scale-") as tmp:
            print(f"{n:,} tokens", file=sys.stderr)
            rows.append(measure(n, Path(tmp), n_exact=100 if n <= 10**6 else 20))
            print("\n".join(table(rows[-1:])[2:]), file=sys.stderr)
    text = report(rows, time.perf_counter() - start)
    write_report(text, args.output)


if __name__ == "__main__":
    main()
