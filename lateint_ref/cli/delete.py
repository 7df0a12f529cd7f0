"""``lateint delete``: delete documents of an index by id, in one commit (spec/cli.md R-CLI-15)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lateint_ref.cli.shared import EXIT_OK, index_dir, print_json
from lateint_ref.errors import InputError


def _ids(args: argparse.Namespace) -> list[str]:
    """The ids as given, from the arguments or the file (one per line, blank lines skipped)."""
    if args.ids_file is None:
        return list(args.ids)
    text = Path(args.ids_file).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _typed(ids: list[str], integers: bool) -> list[int] | list[str]:
    """The ids as the index keeps them: integers for an index of integer ids (R-INDEX-5)."""
    if not integers:
        return ids
    out = []
    for x in ids:
        try:
            out.append(int(x))
        except ValueError:
            raise InputError(f"R-CLI-15: the index has integer ids, got {x!r}") from None
    return out


def run(args: argparse.Namespace) -> int:
    if bool(args.ids) == (args.ids_file is not None):
        args.parser.error("R-CLI-15: give ID arguments or --ids FILE, one of them")
    from lateint_ref.index import Index
    from lateint_ref.retrieval import changes

    path = index_dir(args.index)
    given = _ids(args)
    before = Index.open(path)
    integers = bool(before.ids) and not isinstance(before.ids[0], str)
    after = changes.delete(path, _typed(given, integers))
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
