"""``lateint index``: encode a corpus and build (or resume) an index (spec/cli.md)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from lateint_ref.cli.shared import EXIT_OK, backend, corpus, precision, print_json


def run(args: argparse.Namespace) -> int:
    from lateint_ref.retrieval.retriever import Retriever

    documents = corpus(Path(args.corpus), args)
    if args.shards is not None:
        return _sharded(args, documents)
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
        precision=precision(args),
        threads=args.threads,
        progress=True,  # R-CLI-5: refreshed on a terminal, a line per commit elsewhere
        prune=args.prune,
        append=args.append,
        keep_empty=args.keep_empty,
        projection=args.projection,
    )
    seconds = time.perf_counter() - start
    info = r.info()
    counts = r.counts or {}
    undecodable = documents.skipped  # R-CLI-20: --on-bad-text skip
    if args.json:
        print_json(
            {
                "index": args.index,
                "seconds": seconds,
                **info,
                "counts": counts,
                "undecodable": undecodable,
            }
        )
    else:
        print(
            f"indexed {info['n_live']:,} documents ({info['n_tokens']:,} tokens x {info['dim']})"
            f" in {args.index} in {seconds:.1f} s"
        )
        shown = [f"{counts.get(k, 0):,} {k}" for k in ("added", "updated", "unchanged", "removed")]
        shown.append(f"{counts.get('empty', 0):,} empty skipped")
        shown.append(f"{counts.get('truncated', 0):,} truncated to the document length")
        if undecodable:
            shown.append(f"{undecodable:,} undecodable skipped")
        if counts.get("not_in_corpus"):
            shown.append(f"{counts['not_in_corpus']:,} not in corpus (kept; --prune removes them)")
        print(", ".join(shown))
    return EXIT_OK


def _sharded(args: argparse.Namespace, documents: Any) -> int:
    """``--shards N``: a sharded index built on Ray or here (spec/distributed.md R-DIST-6)."""
    from lateint_ref.distributed import commands

    if args.append or args.prune:
        args.parser.error("R-DIST-6: --shards builds a new index: no --append or --prune")
    record = commands.model_record(
        args.model, seed=args.seed, embedding_size=args.embedding_size, projection=args.projection
    )
    start = time.perf_counter()
    sharded, counts = commands.build(
        args.index,
        documents,
        args.shards,
        record,
        ray=args.ray,
        batch_size=args.batch_size,
        nbits=args.nbits,
        seed=args.seed,
        backend=backend(args),
        precision=precision(args),
        keep_empty=args.keep_empty,
    )
    seconds = time.perf_counter() - start
    sizes = sharded.shard_sizes()
    sharded.close()
    if args.json:
        print_json({"index": args.index, "seconds": seconds, "shards": sizes, "counts": counts})
    else:
        print(
            f"indexed {sum(sizes):,} documents in {len(sizes)} shards "
            f"({', '.join(map(str, sizes))}) in {args.index} in {seconds:.1f} s; "
            f"{counts['empty']:,} empty skipped"
        )
    return EXIT_OK
