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
    r = Retriever.open(index_dir(args.index), backend=backend(args))
    start = time.perf_counter()
    ranking = search_run(r, queries, args.k, args.threads)
    seconds = time.perf_counter() - start
    if args.output:
        write_run(args.output, ranking)
    scores = evaluate(ranking, qrels, metrics=METRICS)
    if args.json:
        print_json({**scores, "n_queries": len(queries), "k": args.k, "seconds": seconds})
        return EXIT_OK
    for metric in METRICS:
        print(f"{metric_name(metric):<11} {scores[metric]:.4f}")
    print(f"({len(queries):,} queries of {args.split}, k={args.k}, {seconds:.2f} s)")
    return EXIT_OK
