"""``lateint add``: encode documents with the index's own model and add them in one commit, or
replace those of the same ids (spec/cli.md R-CLI-18)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lateint_ref.cli.shared import EXIT_OK, backend, corpus, index_dir, precision, print_json


def run(args: argparse.Namespace) -> int:
    from lateint_ref.retrieval.retriever import Retriever

    read = corpus(Path(args.corpus), args)
    documents = list(read)
    r = Retriever.open(index_dir(args.index), backend=backend(args), precision=precision(args))
    before = r.index.generation
    start = time.perf_counter()
    r.add(
        documents,
        upsert=args.upsert,
        batch_size=args.batch_size,
        threads=args.threads,
        progress=sys.stderr.isatty(),  # R-CLI-5
    )
    seconds = time.perf_counter() - start
    index = r.index
    if args.json:
        print_json(
            {
                "index": args.index,
                "added": len(documents),
                "n_live": index.n_live,
                "generation": index.generation if documents else before,
                "undecodable": read.skipped,  # R-CLI-20
                "seconds": seconds,
            }
        )
    else:
        print(
            f"added {len(documents):,} documents to {args.index} ({index.n_live:,} live) "
            f"in {seconds:.1f} s"
            + (f"; {read.skipped:,} undecodable skipped" if read.skipped else "")
        )
    return EXIT_OK
