"""``lateint mine``: mine hard negatives with our own index into triplets JSONL (spec/cli.md,
spec/mining.md)."""

from __future__ import annotations

import argparse
import sys
import time

from lateint_ref.cli.shared import EXIT_OK, backend, precision, print_json


def run(args: argparse.Namespace) -> int:
    if args.depth < args.skip_top + args.negatives:  # R-CLI-13: before any file is read
        args.parser.error(
            f"R-CLI-13: --depth {args.depth} is less than --skip-top {args.skip_top} "
            f"+ --negatives {args.negatives}"
        )
    from lateint_ref.training.mining import mine, write_triplets

    start = time.perf_counter()
    triplets = mine(
        args.dataset,
        args.model,
        split=args.split,
        index_dir=args.index,
        n_negatives=args.negatives,
        depth=args.depth,
        skip_top=args.skip_top,
        seed=args.seed,
        batch_size=args.batch_size,
        backend=backend(args),
        precision=precision(args),
        threads=args.threads,
        progress=sys.stderr.isatty(),  # R-CLI-5
        projection=args.projection,
    )
    lines = write_triplets(args.output, triplets)
    seconds = time.perf_counter() - start
    summary = {
        "output": args.output,
        "triplets": lines,
        "negatives": args.negatives,
        "dropped_queries": len(triplets.dropped),
        "dropped_pairs": triplets.dropped_pairs,
        "seconds": seconds,
    }
    if args.json:
        print_json(summary)
        return EXIT_OK
    print(
        f"mined {lines:,} triplets with {args.negatives} negatives each from {args.split} "
        f"into {args.output} in {seconds:.1f} s"
    )
    if triplets.dropped:  # R-MINE-5: reported, not silent
        print(
            f"dropped {triplets.dropped_pairs:,} pairs of {len(triplets.dropped):,} queries with "
            f"fewer than {args.negatives} negatives in their {args.depth} hits"
        )
    return EXIT_OK
