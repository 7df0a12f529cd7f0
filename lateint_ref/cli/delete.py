"""``lateint delete``: delete documents of an index by id, in one commit (spec/cli.md R-CLI-15)."""

from __future__ import annotations

import argparse

from lateint_ref.cli.shared import EXIT_OK, index_dir, print_json, read_ids, typed_ids


def _ids(args: argparse.Namespace) -> list[str]:
    """The ids as given, from the arguments or the file (one per line, blank lines skipped)."""
    return list(args.ids) if args.ids_file is None else read_ids(args.ids_file)


def run(args: argparse.Namespace) -> int:
    if bool(args.ids) == (args.ids_file is not None):
        args.parser.error("R-CLI-15: give ID arguments or --ids FILE, one of them")
    from lateint_ref.index import Index
    from lateint_ref.retrieval import changes

    path = index_dir(args.index)
    given = _ids(args)
    before = Index.open(path)
    after = changes.delete(path, typed_ids(given, before, "R-CLI-15"))
    deleted = before.n_live - after.n_live
    if args.json:
        print_json(
            {
                "index": args.index,
                "deleted": deleted,
                "n_live": after.n_live,
                "n_deleted": len(after) - after.n_live,
                "generation": after.generation,
            }
        )
    else:
        print(f"deleted {deleted:,} documents from {args.index} ({after.n_live:,} live)")
    return EXIT_OK
