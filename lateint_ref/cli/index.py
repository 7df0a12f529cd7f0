"""``lateint index``: encode a corpus and build (or resume) an index (spec/cli.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lateint_ref.cli.shared import EXIT_OK, backend, corpus, print_json


def run(args: argparse.Namespace) -> int:
    from lateint_ref.retrieval.retriever import Retriever

    documents = corpus(Path(args.corpus))
    start = time.perf_counter()
    r = Retriever.build(
        args.index,
        args.model,
        documents,
        batch_size=args.batch_size,
        commit_every=args.commit_every,
        nbits=args.nbits,
        seed=args.seed,
        embedding_size=args.embedding_size,
        backend=backend(args),
        threads=args.threads,
        progress=sys.stderr.isatty(),  # R-CLI-5
    )
    seconds = time.perf_counter() - start
    info = r.info()
    if args.json:
        print_json({"index": args.index, "seconds": seconds, **info})
    else:
        print(
            f"indexed {info['n_docs']:,} documents ({info['n_tokens']:,} tokens x {info['dim']})"
            f" in {args.index} in {seconds:.1f} s"
        )
    return EXIT_OK
