"""``lateint compact``: merge an index's segments, dropping deleted documents, with ``--refit``
re-encoding the stored texts and refitting the codec (spec/cli.md R-CLI-16)."""

from __future__ import annotations

import argparse
import sys
import time

from lateint_ref.cli.shared import EXIT_OK, backend, index_dir, precision, print_json


def run(args: argparse.Namespace) -> int:
    from lateint_ref.index import Index
    from lateint_ref.retrieval import changes
    from lateint_ref.retrieval.retriever import Retriever

    path = index_dir(args.index)
    before = Index.open(path)
    start = time.perf_counter()
    if args.refit:
        r = Retriever.open(path, backend=backend(args), precision=precision(args))
        r.compact(
            refit=True,
            batch_size=args.batch_size,
            threads=args.threads,
            progress=sys.stderr.isatty(),  # R-CLI-5
        )
        after = r.index
    else:
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
                "far_share": after.stats()["far_share"],
                "refit": args.refit,
                "seconds": seconds,
            }
        )
    else:
        refitted = ", codec refitted" if args.refit else ""
        print(
            f"compacted {args.index}: {after.n_live:,} documents kept, {dropped:,} deleted "
            f"dropped{refitted}, {size:,} bytes, in {seconds:.1f} s"
        )
    return EXIT_OK
