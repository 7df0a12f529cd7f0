"""The ``lateint`` command line (spec/cli.md): index a corpus, search it, evaluate it on a BEIR
dataset, encode texts, describe an index.

Each command is one small function ``_cmd_<name>(args) -> int`` that prints its results on
stdout. ``main`` parses the arguments and is the one place where exceptions become exit codes and
``lateint: error: ...`` lines on stderr (R-CLI-3, R-CLI-4). Heavy modules (the retriever, the
encoder, torch) are imported inside the commands, so ``lateint --help`` stays fast (R-CLI-1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

PROG = "lateint"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
_METRIC_NAMES = {"ndcg": "nDCG", "recall": "Recall", "mrr": "MRR", "map": "MAP"}
_QUERY_CHUNK = 256  # queries encoded and searched per call: bounds memory on large query files
_SNIPPET = 80


class UsageError(Exception):
    """A command line that cannot be run as written (exit code 2, R-CLI-3)."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises ``UsageError`` instead of exiting, so that ``main`` maps
    every error in one place."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        message = message if message.startswith("R-") else f"R-CLI-3: {message}"
        raise UsageError(message, self.format_usage())


# ---------------------------------------------------------------- argument types (R-CLI-12)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2^64, got {text!r}")
    return value


def _parser() -> _Parser:
    # --json and --threads are accepted before and after the command name (R-CLI-2); SUPPRESS
    # keeps a subcommand's absent option from overwriting a value given before it.
    common = _Parser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout instead of text",
    )
    common.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        default=argparse.SUPPRESS,
        help="worker threads (default: every core); results do not depend on it",
    )
    parser = _Parser(
        prog=PROG,
        parents=[common],
        description="Late-interaction (ColBERT-style) retrieval on the CPU: index a corpus with a "
        "model, search it, evaluate it.",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error. See spec/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "index",
        parents=[common],
        help="encode a corpus and build (or resume) an index",
        description="Encode CORPUS with the model and add it to the index at --index. An "
        "interrupted run keeps its committed batches; rerunning the same command continues.",
    )
    p.add_argument(
        "corpus",
        metavar="CORPUS",
        help="a BEIR folder (with corpus.jsonl), a JSONL file, or a folder of .txt files",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="a local model folder")
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N")
    p.add_argument(
        "--commit-every",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="documents between commits (default 1000)",
    )
    p.add_argument("--nbits", type=int, choices=(1, 2, 4), default=2)
    p.add_argument("--seed", type=_seed, default=0, help="k-means seed (default 0)")
    p.add_argument(
        "--embedding-size",
        type=_positive_int,
        default=128,
        metavar="N",
        help="projection size given to a bare BERT/ModernBERT backbone (default 128)",
    )
    _add_backend(p)
    p.set_defaults(run=_cmd_index, parser=p)

    p = commands.add_parser(
        "search",
        parents=[common],
        help="search an index with query texts or a query file",
        description="Either QUERY texts (prints rank, id, score and a snippet) or --queries FILE "
        "--output RUN.tsv (a TREC run).",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument("queries_text", nargs="*", metavar="QUERY", help="query texts")
    p.add_argument(
        "--queries",
        metavar="FILE",
        help="queries JSONL (BEIR queries.jsonl, or a BEIR folder)",
    )
    p.add_argument("--output", metavar="RUN.tsv", help="TREC run file (with --queries)")
    p.add_argument("--k", type=_positive_int, default=10, metavar="N", help="results per query")
    _add_backend(p)
    p.set_defaults(run=_cmd_search, parser=p)

    p = commands.add_parser(
        "eval",
        parents=[common],
        help="evaluate an index on a BEIR dataset",
        description="Searches every query judged in qrels/SPLIT.tsv and prints "
        + ", ".join(_metric_name(m) for m in METRICS)
        + ".",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument(
        "--dataset", required=True, metavar="BEIR_DIR", help="with queries.jsonl and qrels/"
    )
    p.add_argument("--split", default="test", help="qrels split (default test)")
    p.add_argument(
        "--k", type=_positive_int, default=100, metavar="N", help="results per query (default 100)"
    )
    p.add_argument("--output", metavar="RUN.tsv", help="also write the run in TREC format")
    _add_backend(p)
    p.set_defaults(run=_cmd_eval, parser=p)

    p = commands.add_parser(
        "encode",
        parents=[common],
        help="encode texts to token embeddings",
        description="Token embeddings of TEXTS ('-' reads one text per line from stdin).",
    )
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--model", required=True, metavar="DIR", help="a local model folder")
    p.add_argument("--query", action="store_true", help="encode as queries (default documents)")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N")
    _add_backend(p)
    p.add_argument("--output", metavar="FILE.npz", help="write vectors, offsets and texts")
    p.set_defaults(run=_cmd_encode, parser=p)

    p = commands.add_parser("info", parents=[common], help="describe an index: sizes, model, dims")
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.set_defaults(run=_cmd_info, parser=p)
    return parser


def _add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=("torch", "numpy"),
        default=None,
        help="encoder backend (default: torch when installed, else numpy)",
    )


def _backend(args: argparse.Namespace) -> str:
    return args.backend or ("torch" if _has_torch() else "numpy")


# ---------------------------------------------------------------- commands


def _cmd_index(args: argparse.Namespace) -> int:
    from lateint_ref.retriever import Retriever

    corpus = _corpus(Path(args.corpus))
    start = time.perf_counter()
    r = Retriever.build(
        args.index,
        args.model,
        corpus,
        batch_size=args.batch_size,
        commit_every=args.commit_every,
        nbits=args.nbits,
        seed=args.seed,
        embedding_size=args.embedding_size,
        backend=_backend(args),
        threads=args.threads,
        progress=sys.stderr.isatty(),  # R-CLI-5
    )
    seconds = time.perf_counter() - start
    info = r.info()
    if args.json:
        _print_json({"index": args.index, "seconds": seconds, **info})
    else:
        print(
            f"indexed {info['n_docs']:,} documents ({info['n_tokens']:,} tokens x {info['dim']})"
            f" in {args.index} in {seconds:.1f} s"
        )
    return EXIT_OK


def _cmd_search(args: argparse.Namespace) -> int:
    if args.queries and args.queries_text:
        args.parser.error("R-CLI-8: give QUERY texts or --queries FILE, not both")
    if not args.queries and not args.queries_text:
        args.parser.error("R-CLI-8: give QUERY texts or --queries FILE")
    if args.queries and not args.output:
        args.parser.error("R-CLI-8: --queries needs --output RUN.tsv")
    if args.output and not args.queries:
        args.parser.error("R-CLI-8: --output needs --queries FILE")
    from lateint_ref.retriever import Retriever

    if args.queries:
        queries = _queries(Path(args.queries))
        r = Retriever.open(_index_dir(args.index), backend=_backend(args))
        run = _run(r, queries, args.k, args.threads)
        _write_run(args.output, run)
        if args.json:
            _print_json({"queries": len(queries), "output": args.output})
        else:
            print(f"searched {len(queries):,} queries; run written to {args.output}")
        return EXIT_OK
    r = Retriever.open(_index_dir(args.index), backend=_backend(args))
    results = []
    for text, hits in zip(
        args.queries_text, r.search(args.queries_text, k=args.k, threads=args.threads), strict=True
    ):
        rows = [
            {"rank": rank, "id": doc_id, "score": float(score), "text": _snippet(r.text(doc_id))}
            for rank, (doc_id, score) in enumerate(zip(hits.ids, hits.scores, strict=True), 1)
        ]
        results.append({"query": text, "hits": rows})
    if args.json:
        _print_json(results)
        return EXIT_OK
    for n, result in enumerate(results):
        if len(results) > 1:
            print(("\n" if n else "") + f"query: {result['query']}")
        width = max([len(str(h["id"])) for h in result["hits"]] + [2])
        print(f"{'rank':>4}  {'id':<{width}}  {'score':>9}  text")
        for h in result["hits"]:
            print(f"{h['rank']:>4}  {h['id']!s:<{width}}  {h['score']:>9.4f}  {h['text']}")
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace) -> int:
    from lateint_ref import beir, evaluation
    from lateint_ref.retriever import Retriever

    _, judged, qrels = beir.load_dataset(args.dataset, args.split)
    queries = list(judged.items())
    if not queries:
        raise _input_error(f"R-CLI-9: {args.dataset}: no query is judged in {args.split}")
    r = Retriever.open(_index_dir(args.index), backend=_backend(args))
    start = time.perf_counter()
    run = _run(r, queries, args.k, args.threads)
    seconds = time.perf_counter() - start
    if args.output:
        _write_run(args.output, run)
    scores = evaluation.evaluate(run, qrels, metrics=METRICS)
    if args.json:
        _print_json({**scores, "n_queries": len(queries), "k": args.k, "seconds": seconds})
        return EXIT_OK
    for metric in METRICS:
        print(f"{_metric_name(metric):<11} {scores[metric]:.4f}")
    print(f"({len(queries):,} queries of {args.split}, k={args.k}, {seconds:.2f} s)")
    return EXIT_OK


def _cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from lateint_ref.retriever import load_encoder

    texts = [line.rstrip("\n") for line in sys.stdin] if args.texts == ["-"] else args.texts
    encoder = load_encoder(args.model, backend=_backend(args))  # as `lateint index` loads it
    embeddings = encoder.encode(texts, is_query=args.query, batch_size=args.batch_size)
    if args.output:
        offsets = np.cumsum([0] + [len(e) for e in embeddings], dtype=np.int64)
        dim = encoder.embedding_size
        vectors = np.concatenate(embeddings) if embeddings else np.zeros((0, dim), np.float32)
        with open(args.output, "wb") as f:  # R-CLI-10: plain arrays, no pickle
            np.savez(f, vectors=vectors, offsets=offsets, texts=np.array(texts, dtype=str))
        summary = {"texts": len(texts), "tokens": int(offsets[-1]), "dim": dim}
        if args.json:
            _print_json({**summary, "output": args.output})
        else:
            print(f"encoded {len(texts)} texts ({offsets[-1]} tokens x {dim}) into {args.output}")
        return EXIT_OK
    if args.json:
        _print_json(
            [{"text": t, "embeddings": e.tolist()} for t, e in zip(texts, embeddings, strict=True)]
        )
        return EXIT_OK
    for text, e in zip(texts, embeddings, strict=True):
        head = " ".join(f"{v:+.4f}" for v in e[0, :4]) if len(e) else ""
        print(f"{len(e):>4} x {e.shape[1]}  [{head} ...]  {_snippet(text)}")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    from lateint_ref.retriever import Retriever

    info = Retriever.open(_index_dir(args.index), backend="numpy").info()  # no encoding
    if args.json:
        _print_json({"index": args.index, **info})
        return EXIT_OK
    print(f"index: {args.index}")
    for key, value in info.items():
        if key == "bytes_on_disk":
            value = f"{value:,} ({value / 2**20:.2f} MiB)"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True, default=str)
        print(f"{key}: {value}")
    return EXIT_OK


# ---------------------------------------------------------------- inputs and outputs


def _corpus(path: Path) -> Any:
    """The ``(id, text)`` pairs of a BEIR folder, a JSONL file or a folder of .txt files
    (R-CLI-6), streamed."""
    from lateint_ref import beir

    if path.is_file():
        return beir.read_jsonl_corpus(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if (path / "corpus.jsonl").is_file():
        return beir.load_corpus(path / "corpus.jsonl")
    if any(path.glob("*.txt")):
        return beir.read_text_folder(path)
    raise _input_error(f"R-CLI-6: {path}: not a corpus (a folder needs corpus.jsonl or .txt files)")


def _index_dir(path: str) -> str:
    """The folder of an existing index, named when missing (R-CLI-4)."""
    if not Path(path).is_dir():
        raise FileNotFoundError(2, "No such file or directory", path)
    return path


def _queries(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` pairs of a queries JSONL file or a BEIR folder's queries.jsonl (R-CLI-8)."""
    from lateint_ref import beir

    return list(beir.load_queries(path).items())


def _run(r: Any, queries: list[tuple[str, str]], k: int, threads: int | None) -> dict:
    """``{qid: [(doc_id, score), ...]}`` best first, searched in chunks of queries."""
    run: dict[str, list[tuple[str, float]]] = {}
    for start in range(0, len(queries), _QUERY_CHUNK):
        chunk = queries[start : start + _QUERY_CHUNK]
        for (qid, _), hits in zip(
            chunk, r.search([t for _, t in chunk], k=k, threads=threads), strict=True
        ):
            run[str(qid)] = [(str(d), float(s)) for d, s in zip(hits.ids, hits.scores, strict=True)]
    return run


def _write_run(path: str, run: dict) -> None:
    from lateint_ref import evaluation

    evaluation.write_run(path, run, PROG)


def _snippet(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _SNIPPET else flat[: _SNIPPET - 3] + "..."


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    return str(value)


def _metric_name(metric: str) -> str:
    name, _, cutoff = metric.partition("@")
    return f"{_METRIC_NAMES.get(name, name)}@{cutoff}"


def _input_error(message: str) -> Exception:
    from lateint_ref.errors import InputError

    return InputError(message)


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _version() -> str:
    from lateint_ref import __version__

    return __version__


def _set_threads(threads: int | None) -> None:
    """Before any heavy import: the native kernels' pool and torch read these (R-CLI-2)."""
    if threads is not None:
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Runs ``lateint`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code. The one
    place where exceptions become exit codes and messages (R-CLI-3, R-CLI-4)."""
    from lateint_ref.errors import LateIntError

    parser = _parser()
    try:
        args = parser.parse_args(argv)
        args.json = getattr(args, "json", False)
        args.threads = getattr(args, "threads", None)
        _set_threads(args.threads)
        return args.run(args)
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
