"""``lateint info``: describe an index: sizes, model, dims (spec/cli.md)."""

from __future__ import annotations

import argparse
import json

from lateint_ref.cli.shared import EXIT_OK, index_dir, print_json


def run(args: argparse.Namespace) -> int:
    from lateint_ref.retrieval.retriever import Retriever

    info = Retriever.open(index_dir(args.index), backend="numpy").info()  # no encoding
    if args.json:
        print_json({"index": args.index, **info})
        return EXIT_OK
    print(f"index: {args.index}")
    for key, value in info.items():
        if key == "bytes_on_disk":
            value = f"{value:,} ({value / 2**20:.2f} MiB)"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True, default=str)
        print(f"{key}: {value}")
    return EXIT_OK
