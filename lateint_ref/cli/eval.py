"""``lateint eval``: evaluate an index on a BEIR dataset (spec/cli.md)."""

from __future__ import annotations

import argparse
import time

from lateint_ref.cli.shared import (
    EXIT_OK,
    METRICS,
    backend,
    index_dir,
    metric_name,
    precision,
    print_json,
    search_run,
    write_run,
)
from lateint_ref.errors import InputError


def run(args: argparse.Namespace) -> int:
    from lateint_ref.evaluation import beir, evaluate
    from lateint_ref.retrieval.retriever import Retriever

    _, judged, qrels = beir.load_dataset(args.dataset, args.split)
    queries = list(judged.items())
    if not queries:
        raise InputError(f"R-CLI-9: {args.dataset}: no query is judged in {args.split}")
    r = Retriever.open(
        index_dir(args.index),
        model_dir=args.model,
        backend=backend(args),
        precision=precision(args),
    )
    indexed = {str(i) for i in r.index.live_ids}
    if not any(d in indexed for q in qrels.values() for d in q):
        raise InputError(
            f"R-CLI-9: no document judged in {args.split}.tsv of {args.dataset} is in the index "
            f"{args.index}: is it the index of another collection?"
        )
    depth = max(int(m.partition("@")[2]) for m in METRICS)  # R-CLI-9: metrics never use --k
    start = time.perf_counter()
    ranking = search_run(r, queries, depth, args.threads)
    seconds = time.perf_counter() - start
    if args.output:
        if args.k <= depth:
            write_run(args.output, {q: hits[: args.k] for q, hits in ranking.items()})
        else:
            write_run(args.output, search_run(r, queries, args.k, args.threads))
    scores = evaluate(ranking, qrels, metrics=METRICS)
    if args.json:
        print_json(
            {**scores, "n_queries": len(queries), "depth": depth, "k": args.k, "seconds": seconds}
        )
        return EXIT_OK
    for metric in METRICS:
        print(f"{metric_name(metric):<11} {scores[metric]:.4f}")
    print(f"({len(queries):,} queries of {args.split}, depth {depth}, {seconds:.2f} s)")
    return EXIT_OK
