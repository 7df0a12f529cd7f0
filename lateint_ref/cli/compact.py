"""``lateint compact``: merge an index's segments, dropping deleted documents (spec/cli.md
R-CLI-16)."""

from __future__ import annotations

import argparse
import time

from lateint_ref.cli.shared import EXIT_OK, index_dir, print_json


def run(args: argparse.Namespace) -> int:
    from lateint_ref.index import Index
    from lateint_ref.retrieval import changes

    path = index_dir(args.index)
    before = Index.open(path)
    start = time.perf_counter()
    after = changes.compact(path, threads=args.threads)
    seconds = time.perf_counter() - start
    dropped = len(before) - before.n_live
    size = sum(n for _, n in after.files())
    if args.json:
        print_json(
            {
                "index": args.index,
                "dropped": dropped,
                "n_live": after.n_live,
                "generation": after.generation,
                "bytes_on_disk": size,
                "seconds": seconds,
            }
        )
    else:
        print(
            f"compacted {args.index}: {after.n_live:,} documents kept, {dropped:,} deleted "
            f"dropped, {size:,} bytes, in {seconds:.1f} s"
        )
    return EXIT_OK
