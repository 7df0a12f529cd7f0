"""``lateint search``: search an index with query texts or a query file (spec/cli.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lateint_ref.cli.shared import (
    EXIT_OK,
    backend,
    index_dir,
    precision,
    print_json,
    read_ids,
    read_queries,
    search_run,
    snippet,
    typed_ids,
    write_run,
)


def run(args: argparse.Namespace) -> int:
    if args.queries and args.queries_text:
        args.parser.error("R-CLI-8: give QUERY texts or --queries FILE, not both")
    if not args.queries and not args.queries_text:
        args.parser.error("R-CLI-8: give QUERY texts or --queries FILE")
    if args.queries and not args.output:
        args.parser.error("R-CLI-8: --queries needs --output RUN.tsv")
    if args.output and not args.queries:
        args.parser.error("R-CLI-8: --output needs --queries FILE")
    from lateint_ref.distributed import commands
    from lateint_ref.retrieval.retriever import Retriever

    if commands.is_sharded(index_dir(args.index)):
        return _sharded(args)
    queries = read_queries(Path(args.queries)) if args.queries else None
    r = Retriever.open(
        index_dir(args.index),
        model_dir=args.model,
        backend=backend(args),
        precision=precision(args),
    )
    # R-CLI-17: only the documents of the --allow file may be returned (R-ISEARCH-7).
    allow = None if args.allow is None else typed_ids(read_ids(args.allow), r.index, "R-CLI-17")
    if queries is not None:
        ranking = search_run(r, queries, args.k, args.threads, allow)
        write_run(args.output, ranking)
        if args.json:
            print_json({"queries": len(queries), "output": args.output})
        else:
            print(f"searched {len(queries):,} queries; run written to {args.output}")
        return EXIT_OK
    results = []
    found = r.search(args.queries_text, k=args.k, threads=args.threads, allow=allow)
    for text, hits in zip(args.queries_text, found, strict=True):
        rows = [
            {"rank": rank, "id": doc_id, "score": float(score), "text": snippet(r.text(doc_id))}
            for rank, (doc_id, score) in enumerate(zip(hits.ids, hits.scores, strict=True), 1)
        ]
        results.append({"query": text, "hits": rows})
    if args.json:
        print_json(results)
        return EXIT_OK
    for n, result in enumerate(results):
        if len(results) > 1:
            print(("\n" if n else "") + f"query: {result['query']}")
        width = max([len(str(h["id"])) for h in result["hits"]] + [2])
        print(f"{'rank':>4}  {'id':<{width}}  {'score':>9}  text")
        for h in result["hits"]:
            print(f"{h['rank']:>4}  {h['id']!s:<{width}}  {h['score']:>9.4f}  {h['text']}")
    return EXIT_OK


def _sharded(args: argparse.Namespace) -> int:
    """A sharded index (spec/distributed.md R-DIST-3): QUERY texts, ids and scores (no texts
    are stored); ``--queries`` writes a run as for one index."""
    from lateint_ref.distributed import commands

    if args.allow is not None:
        args.parser.error("R-DIST-3: --allow is not supported on a sharded index")
    queries = read_queries(Path(args.queries)) if args.queries else None
    texts = [t for _, t in queries] if queries is not None else list(args.queries_text)
    found = commands.search(
        args.index,
        texts,
        args.k,
        ray=args.ray,
        backend=backend(args),
        precision=precision(args),
    )
    if queries is not None:
        ranking = {
            str(qid): [(str(d), float(x)) for d, x in zip(h.ids, h.scores, strict=True)]
            for (qid, _), h in zip(queries, found, strict=True)
        }
        write_run(args.output, ranking)
        if args.json:
            print_json({"queries": len(queries), "output": args.output})
        else:
            print(f"searched {len(queries):,} queries; run written to {args.output}")
        return EXIT_OK
    results: list[dict[str, Any]] = [
        {
            "query": text,
            "hits": [
                {"rank": r, "id": i, "score": float(s)}
                for r, (i, s) in enumerate(zip(h.ids, h.scores, strict=True), 1)
            ],
        }
        for text, h in zip(texts, found, strict=True)
    ]
    if args.json:
        print_json(results)
        return EXIT_OK
    for n, result in enumerate(results):
        if len(results) > 1:
            print(("\n" if n else "") + f"query: {result['query']}")
        print(f"{'rank':>4}  {'id':<12}  {'score':>9}")
        for h in result["hits"]:
            print(f"{h['rank']:>4}  {h['id']!s:<12}  {h['score']:>9.4f}")
    return EXIT_OK
