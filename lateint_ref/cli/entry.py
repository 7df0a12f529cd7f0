"""The ``lateint`` entry point (spec/cli.md): parses the arguments, runs one command module
(``lateint_ref.cli.<command>``, imported only when it runs) and is the one place where exceptions
become exit codes and ``lateint: error: ...`` lines on stderr (R-CLI-3, R-CLI-4). Nothing heavy is
imported before a command needs it, so ``lateint --help`` stays fast (R-CLI-1)."""

from __future__ import annotations

import importlib
import os
import sys

from lateint_ref.cli.parser import UsageError, build
from lateint_ref.cli.shared import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
)


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
        return _fail(str(exc), EXIT_FAILURE)
    except OSError as exc:
        if exc.filename is None:  # raised with a message of its own, e.g. "R-BEIR-1: ..."
            return _fail(str(exc) if str(exc).startswith("R-") else f"R-CLI-4: {exc}", 1)
        return _fail(f"R-CLI-4: {exc.filename}: {exc.strerror}", EXIT_FAILURE)


def _fail(message: str, code: int) -> int:
    sys.stdout.flush()
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code
