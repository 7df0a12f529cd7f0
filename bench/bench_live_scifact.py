"""A live index on SciFact (spec/index.md R-INDEX-7..12, R-ISEARCH-6..8): grow by 10% in 50
additions, delete 10%, search, filter, compact; against an index of the same codec built in one
addition.

The embeddings are SciFact's (bench/scifact.py: MiniLM + PyLate's seed-0 projection, cached).
The index is created from the first 10/11 of the corpus (the codec is trained on it), the other
1/11 (10% more documents) is added in 50 chunks, then 10% of all documents (seeded) are deleted
in one call. The reference index is created from the same first chunk with the same parameters
(the same codec, R-ISEARCH-8), gets the same additions in ONE call and the same deletion: its
hits must be identical (ids and bit-identical scores) for the 300 test queries, with the default
pipeline and exhaustively, and again after both are compacted. Measured: each addition's tokens
per second (flat from the first to the last, R-INDEX-16: an addition reads only the ids of the
earlier segments), the deletion's latency (10% at once, and one id), the compaction, and the
search of the 300 queries unfiltered and with allow-lists of 1% and 10% of the documents
(R-ISEARCH-7: a 1% filter costs its documents, not a full search).

    .venv/bin/python bench/bench_live_scifact.py [--output bench/results/live.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import measure
import scifact

from lateint_ref import Index

CHUNKS = 50
SEED = 0
K = 10


def _same(a: list, b: list) -> bool:
    """Identical hits: the same ids in the same order and bit-identical scores."""
    return all(
        x.ids == y.ids and np.array_equal(x.scores, y.scores) for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    emb = scifact.load()
    vectors, offsets, queries = emb.doc_vectors, emb.doc_offsets, emb.query_vectors
    docs = [vectors[offsets[j] : offsets[j + 1]] for j in range(len(offsets) - 1)]
    n = len(docs)
    base = round(n * 10 / 11)
    chunks = np.array_split(np.arange(base, n), CHUNKS)
    rng = np.random.default_rng(SEED)
    deleted = sorted(int(x) for x in rng.choice(n, n // 10, replace=False))
    live = sorted(set(range(n)) - set(deleted))
    rows: list[tuple[str, str]] = []
    checks: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        start = time.perf_counter()
        index = Index.create(Path(tmp) / "live", docs[:base], seed=SEED)
        create_s = time.perf_counter() - start
        ref = Index.create(Path(tmp) / "ref", docs[:base], seed=SEED)
        rates, cpu_rates, add_s = [], [], []
        for c in chunks:
            part = [docs[j] for j in c]
            tokens = sum(len(d) for d in part)
            start, cpu = time.perf_counter(), time.process_time()
            index = index.add(part, [int(j) for j in c])
            add_s.append(time.perf_counter() - start)
            rates.append(tokens / add_s[-1])
            cpu_rates.append(tokens / max(time.process_time() - cpu, 1e-9))
        ref = ref.add(docs[base:], list(range(base, n)))
        start = time.perf_counter()
        index = index.delete(deleted)
        delete_s = time.perf_counter() - start
        ref = ref.delete(deleted)
        one = live[len(live) // 2]
        start = time.perf_counter()
        index = index.delete([one])
        delete_one_s = time.perf_counter() - start
        ref = ref.delete([one])
        live.remove(one)
        checks.append(
            (
                "default search = one-addition index",
                _same(index.search(queries, k=K), ref.search(queries, k=K)),
            )
        )
        checks.append(
            (
                "exhaustive search = one-addition index",
                _same(
                    index.search(queries, k=K, exhaustive=True),
                    ref.search(queries, k=K, exhaustive=True),
                ),
            )
        )
        plain_s = measure.best_seconds(lambda: index.search(queries, k=K))
        filtered = {}
        for share in (0.01, 0.10):
            allow = [
                live[i] for i in sorted(rng.choice(len(live), round(share * n), replace=False))
            ]
            hits = index.search(queries, k=K, allow=allow)
            allowed = set(allow)
            checks.append(
                (
                    f"{share:.0%} filter returns allowed ids only",
                    all(set(h.ids) <= allowed for h in hits),
                )
            )
            filtered[share] = (
                len(allow),
                measure.best_seconds(lambda a=allow: index.search(queries, k=K, allow=a)),
            )
        segments = len(index.segments())
        start = time.perf_counter()
        index = index.compact()
        compact_s = time.perf_counter() - start
        ref = ref.compact()
        checks.append(
            (
                "compacted: default search = compacted one-addition index",
                _same(index.search(queries, k=K), ref.search(queries, k=K)),
            )
        )
        checks.append(("compacted: live ids", index.live_ids == live))
        compacted_s = measure.best_seconds(lambda: index.search(queries, k=K))
    first, last = statistics.median(rates[:10]), statistics.median(rates[-10:])
    cpu_first, cpu_last = statistics.median(cpu_rates[:10]), statistics.median(cpu_rates[-10:])
    rows = [
        (f"create (first 10/11: {base} documents)", f"{create_s:.2f} s"),
        (
            f"add, {CHUNKS} chunks of ~{(n - base) / CHUNKS:.0f} documents "
            "(median of the first 10 / the last 10)",
            f"{first:,.0f} / {last:,.0f} tokens per wall second (last/first {last / first:.2f}); "
            f"{cpu_first:,.0f} / {cpu_last:,.0f} per CPU second of this process (last/first "
            f"{cpu_last / cpu_first:.2f}); {sum(add_s):.2f} s in all",
        ),
        (f"delete {len(deleted)} documents (10%) in one call", f"{delete_s * 1000:.1f} ms"),
        ("delete one document", f"{delete_one_s * 1000:.1f} ms"),
        (
            f"search {len(queries)} queries, k={K}, {segments} segments, unfiltered",
            f"{plain_s * 1000:.1f} ms",
        ),
    ]
    for share, (m, s) in filtered.items():
        rows.append(
            (
                f"search with an allow-list of {share:.0%} ({m} ids)",
                f"{s * 1000:.1f} ms ({s / plain_s:.2f}x unfiltered)",
            )
        )
    rows += [
        (f"compact {segments} segments into one", f"{compact_s:.2f} s"),
        ("search after compaction, unfiltered", f"{compacted_s * 1000:.1f} ms"),
    ]
    text = "\n".join(
        [
            "# A live index on SciFact: 50 additions, deletions, filters, compaction",
            "",
            f"- machine: {measure.cpu_memory()}; measured {time.strftime('%Y-%m-%d %H:%M')}",
            f"- SciFact corpus ({n} documents, {len(vectors):,} tokens; test queries "
            f"{len(queries)}), embeddings of `bench/scifact.py` ({emb.meta['model']}); nbits 2, "
            "seed 0, default search parameters; times: best of 5 after a warm-up, every core",
            "- the reference: created from the same first chunk (same codec), the same additions "
            "in one call, the same deletions",
            "",
            "| operation | measured |",
            "| --- | --- |",
            *[f"| {a} | {b} |" for a, b in rows],
            "",
            "| check | result |",
            "| --- | --- |",
            *[f"| {name} | {'yes' if ok else '**NO**'} |" for name, ok in checks],
            "",
        ]
    )
    measure.write_report(text, args.output)
    if not all(ok for _, ok in checks):
        sys.exit("a check failed")


if __name__ == "__main__":
    main()
