"""The cost of a live index's operations on a synthetic collection (spec/index.md R-INDEX-9..12,
R-ISEARCH-6, R-ISEARCH-7): default search with and without tombstones (the deletion mask must
cost nothing measurable), with a short and a long allow-list (a short one is scored exactly,
without probing, so it costs its documents only), and a compaction.

    .venv/bin/python bench/bench_live.py [--docs 20000] [--tokens 24] [--dim 64]

Measured on 2 shared cores (2026-12), 20,000 documents x 24 tokens x 64, 64 queries of 16
tokens, k=10, best of 5: 117 ms plain, 117 ms with 10% deleted, 15 ms with an allow-list of 100
ids, 86 ms with 5,000; compaction 0.07 s. The unfiltered search took the same time before the
filters were added (114 ms both, same run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import best_seconds

from lateint_ref import Index


def _best(f: Callable[[], object]) -> float:
    """Milliseconds of the fastest of 5 calls, after one warm-up call."""
    return 1000 * best_seconds(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((args.docs, args.tokens, args.dim)).astype(np.float32)
    q = rng.standard_normal((64, 16, args.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        index = Index.create(Path(tmp) / "i", docs, seed=0)
        print(f"plain: {_best(lambda: index.search(q, k=10)):.1f} ms")
        index = index.delete(
            [int(x) for x in rng.choice(args.docs, args.docs // 10, replace=False)]
        )
        print(f"10% deleted: {_best(lambda: index.search(q, k=10)):.1f} ms")
        for n in (100, args.docs // 4):
            allow = index.live_ids[:n]
            ms = _best(lambda allow=allow: index.search(q, k=10, allow=allow))
            print(f"allow-list of {n}: {ms:.1f} ms")
        start = time.perf_counter()
        index.compact()
        print(f"compaction: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
