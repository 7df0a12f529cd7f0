"""The ``lateint`` entry point (spec/cli.md): parses the arguments, runs one command module
(``lateint_ref.cli.<command>``, imported only when it runs) and is the one place where exceptions
become exit codes and ``lateint: error: ...`` lines on stderr (R-CLI-3, R-CLI-4), led by what to
do for the common failures (``HINTS``). Nothing heavy is imported before a command needs it, so
``lateint --help`` stays fast (R-CLI-1)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NamedTuple

from lateint_ref.cli.parser import UsageError, build
from lateint_ref.cli.shared import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
)


class Hint(NamedTuple):
    """What to do about a failure whose message starts with ``rule`` and contains ``fragment``
    (R-CLI-4), for the ``commands`` named (all when empty)."""

    rule: str
    fragment: str
    hint: str
    commands: tuple[str, ...] = ()


# The one table of what to do, in command-line terms; the library's messages keep their own.
# R-CLI-4: the error line is "HINT (MESSAGE)" for the first row that matches, else "MESSAGE".
READS_INDEX = ("search", "eval", "info", "delete", "compact", "add")
HINTS = (
    Hint("R-INDEX-14", "", "wait until the other writer is done, then run the command again"),
    Hint(
        "R-RET-3",
        "was built with",
        "index with the --model and settings the index was built with, or into a new --index "
        "folder",
    ),
    Hint("R-RET-3", "is not an index", "give --index a new or empty folder"),
    Hint(
        "R-RET-7", "none of the corpus's", "pass --append to add a different corpus to this index"
    ),
    Hint(
        "R-RET-2",
        "give a late-interaction model",
        "pass --projection random to give the bare backbone a seeded projection, or give a "
        "late-interaction model",
    ),
    Hint("R-RET-2", "drop projection='random'", "drop --projection random"),
    Hint(
        "R-RET-2",
        "model folder not found",
        "pass --model DIR, the folder the model moved to",
        ("search", "eval"),
    ),
    Hint(
        "R-CLI-9",
        "no document judged",
        "evaluate with the index of this dataset's corpus (lateint index BEIR_DIR ...)",
    ),
    Hint("R-CLI-9", "no query is judged", "check --split and the dataset's qrels"),
    Hint("R-CLI-20", "line by line", "convert the JSONL file to UTF-8 (iconv -t UTF-8)"),
    Hint(
        "R-CLI-20",
        "text (byte",
        "pass the corpus's --encoding (e.g. latin-1 or cp1252), or --on-bad-text skip or replace",
    ),
    Hint(
        "R-RET-9",
        "is not the one",
        "give --model the folder of the model the index was built with, or index the corpus "
        "again with this model",
    ),
    Hint(
        "R-RET-9",
        "records no fingerprint",
        "index the corpus again (a new --index folder) to record its model's fingerprint",
    ),
)


def hint(message: str, command: str | None) -> str | None:
    """What to do about the failure ``message`` of ``command`` (R-CLI-4), or None."""
    for row in HINTS:
        if (
            message.startswith(row.rule + ":")
            and row.fragment in message
            and (not row.commands or command in row.commands)
        ):
            return row.hint
    return None


def _set_threads(threads: int | None) -> None:
    """Before any heavy import: the native kernels' pool and torch read these (R-CLI-2)."""
    if threads is not None:
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    """Runs ``lateint`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code. The one
    place where exceptions become exit codes and messages (R-CLI-3, R-CLI-4)."""
    from lateint_ref.errors import LateIntError

    parser = build()
    args = argparse.Namespace(command=None)
    try:
        args = parser.parse_args(argv)
        args.json = getattr(args, "json", False)
        args.threads = getattr(args, "threads", None)
        _set_threads(args.threads)
        command = importlib.import_module(f"lateint_ref.cli.{args.command}")
        return int(command.run(args))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        sys.stderr.write(exc.usage or parser.format_usage())
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("R-CLI-3: interrupted; an index keeps its committed batches", EXIT_INTERRUPTED)
    except BrokenPipeError:  # stdout closed early (`lateint search ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except LateIntError as exc:
        return _fail(str(exc), EXIT_FAILURE, hint(str(exc), args.command))
    except OSError as exc:
        if exc.filename is None:  # raised with a message of its own, e.g. "R-BEIR-1: ..."
            return _fail(str(exc) if str(exc).startswith("R-") else f"R-CLI-4: {exc}", 1)
        missing = f"R-CLI-4: {exc.filename}: {exc.strerror}"
        index = getattr(args, "index", None)
        if args.command in READS_INDEX and index is not None and exc.filename == str(index):
            how = f"build it with `lateint index CORPUS --model DIR --index {index}`"
            return _fail(missing, EXIT_FAILURE, f"give --index an index folder, or {how}")
        return _fail(missing, EXIT_FAILURE)


def _fail(message: str, code: int, what_to_do: str | None = None) -> int:
    """Prints the one error line (R-CLI-4): ``what_to_do (message)`` when there is a hint."""
    sys.stdout.flush()
    line = message if what_to_do is None else f"{what_to_do} ({message})"
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return code
