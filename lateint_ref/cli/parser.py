"""The one parser of the ``lateint`` command line (spec/cli.md): its commands, their options and
the argument types (R-CLI-12). Parsing never exits: errors are ``UsageError`` for ``main``."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from lateint_ref.cli.shared import METRICS, PROG, metric_name

COMMANDS = (
    "index",
    "add",
    "search",
    "eval",
    "encode",
    "info",
    "delete",
    "compact",
    "mine",
    "train",
)


def _add_projection(p: argparse.ArgumentParser) -> None:
    """``--projection random``: the opt-in for a bare backbone (R-RET-2)."""
    p.add_argument(
        "--projection",
        choices=("random",),
        help="--model is a bare backbone (no late-interaction projection): give it a seeded "
        "random projection (--seed, --embedding-size); refused without",
    )


def _add_text(p: argparse.ArgumentParser) -> None:
    """``--encoding`` and ``--on-bad-text``: how a corpus's bytes are read (R-CLI-20)."""
    p.add_argument(
        "--encoding",
        type=_encoding,
        default="utf-8",
        metavar="NAME",
        help="text encoding of the corpus files, a Python codec name such as latin-1 or cp1252",
    )
    p.add_argument(
        "--on-bad-text",
        choices=("error", "skip", "replace"),
        default="error",
        help="a document whose bytes are not text in --encoding: stop with an error, skip it "
        "(counted), or replace the bad bytes with U+FFFD",
    )


class UsageError(Exception):
    """A command line that cannot be run as written (exit code 2, R-CLI-3)."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class _Formatter(argparse.HelpFormatter):
    """Help that shows the default of every option that takes a value and has one (R-CLI-22)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return _with_default(action)


def _with_default(action: argparse.Action) -> str | None:
    """``action``'s help with ``(default: VALUE)`` appended when it takes a value and has a
    default (a flag's default is off)."""
    text = action.help or ""
    if (
        action.default in (None, argparse.SUPPRESS)
        or action.nargs == 0
        or not action.option_strings
    ):
        return text
    return f"{text} (default: %(default)s)".strip()


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises ``UsageError`` instead of exiting, so that ``main`` maps
    every error in one place; its help shows the options' defaults (R-CLI-22)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = message if message.startswith("R-") else f"R-CLI-3: {message}"
        raise UsageError(message, self.format_usage())


def _add_ray(p: argparse.ArgumentParser) -> None:
    """``--ray ADDRESS``: where a sharded index's shards run (spec/distributed.md R-DIST-6)."""
    p.add_argument(
        "--ray",
        default="local",
        metavar="ADDRESS",
        help='a sharded index\'s shards: "local" in this process, else a Ray address ("auto": '
        "the cluster of this machine)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2^64, got {text!r}")
    return value


def _encoding(text: str) -> str:
    """A text encoding Python knows (R-CLI-20), checked before any file is read."""
    from lateint_ref.errors import InputError
    from lateint_ref.evaluation.beir import codec_name

    try:
        codec_name(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _warmup(text: str) -> int | float:
    """Steps (an integer) or a fraction of all steps (a number with a point), R-FIT-2."""
    try:
        return int(text)
    except ValueError:
        return _number(text)


def version() -> str:
    from lateint_ref import __version__

    return __version__


def build() -> _Parser:
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
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
    _add_batch_size(p)
    p.add_argument(
        "--commit-every",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="documents between commits",
    )
    p.add_argument(
        "--nbits",
        type=int,
        choices=(1, 2, 4),
        default=2,
        help="bits per dimension of the compressed residuals",
    )
    p.add_argument("--seed", type=_seed, default=0, help="k-means seed")
    p.add_argument(
        "--embedding-size",
        type=_positive_int,
        default=128,
        metavar="N",
        help="projection size given to a bare BERT/ModernBERT backbone (--projection random)",
    )
    p.add_argument(
        "--prune", action="store_true", help="remove the indexed documents the corpus lacks"
    )
    p.add_argument(
        "--append",
        action="store_true",
        help="add a corpus none of whose documents the index holds (else refused)",
    )
    p.add_argument(
        "--keep-empty", action="store_true", help="index empty documents (skipped by default)"
    )
    _add_projection(p)
    _add_text(p)
    _add_backend(p)
    p.add_argument(
        "--shards",
        type=_positive_int,
        metavar="N",
        help="build a sharded index of N shards into the new folder --index (spec/distributed.md)",
    )
    _add_ray(p)
    p.set_defaults(parser=p)

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
    p.add_argument(
        "--allow",
        metavar="FILE",
        help="only these documents: a file of ids, one per line",
    )
    p.add_argument("--k", type=_positive_int, default=10, metavar="N", help="results per query")
    _add_model_folder(p)
    _add_backend(p)
    _add_ray(p)
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "eval",
        parents=[common],
        help="evaluate an index on a BEIR dataset",
        description="Searches every query judged in qrels/SPLIT.tsv and prints "
        + ", ".join(metric_name(m) for m in METRICS)
        + ".",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument(
        "--dataset", required=True, metavar="BEIR_DIR", help="with queries.jsonl and qrels/"
    )
    p.add_argument("--split", default="test", help="qrels split")
    p.add_argument(
        "--k",
        type=_positive_int,
        default=100,
        metavar="N",
        help="results per query in the --output run; the metrics do not use it",
    )
    p.add_argument("--output", metavar="RUN.tsv", help="also write the run in TREC format")
    _add_model_folder(p)
    _add_backend(p)
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "encode",
        parents=[common],
        help="encode texts to token embeddings",
        description="Token embeddings of TEXTS ('-' reads one text per line from stdin).",
    )
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--model", required=True, metavar="DIR", help="a local model folder")
    p.add_argument("--query", action="store_true", help="encode as queries (default documents)")
    _add_batch_size(p)
    _add_projection(p)
    p.add_argument(
        "--seed", type=_seed, default=0, help="the random projection's seed (--projection random)"
    )
    p.add_argument(
        "--embedding-size",
        type=_positive_int,
        default=128,
        metavar="N",
        help="the random projection's size (--projection random)",
    )
    _add_backend(p)
    p.add_argument("--output", metavar="FILE.npz", help="write vectors, offsets and texts")
    p.set_defaults(parser=p)

    p = commands.add_parser("info", parents=[common], help="describe an index: sizes, model, dims")
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "add",
        parents=[common],
        help="add documents to an index in one commit (--upsert: replace those of the same ids)",
        description="Encode CORPUS with the index's model and add it as one segment; an id a live "
        "document has fails and adds nothing, unless --upsert replaces that document.",
    )
    p.add_argument(
        "corpus",
        metavar="CORPUS",
        help="a BEIR folder (with corpus.jsonl), a JSONL file, or a folder of .txt files",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument("--upsert", action="store_true", help="replace documents of the same ids")
    _add_batch_size(p)
    _add_text(p)
    _add_backend(p)
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "delete",
        parents=[common],
        help="delete documents of an index by id, in one commit",
        description="Delete the documents of the given ids (ID arguments or --ids FILE, one id "
        "per line); an id that no live document has fails and deletes nothing.",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument("ids", nargs="*", metavar="ID", help="ids of the documents to delete")
    p.add_argument("--ids", dest="ids_file", metavar="FILE", help="a file of ids, one per line")
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "compact",
        parents=[common],
        help="merge an index's segments, dropping deleted documents",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="the index folder")
    p.add_argument(
        "--refit",
        action="store_true",
        help="encode the stored texts again with the index's model and train new centroids "
        "and buckets on them (R-INDEX-19)",
    )
    _add_batch_size(p)
    _add_backend(p)
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "mine",
        parents=[common],
        help="mine hard negatives with an index into triplets JSONL",
        description="Index the corpus of BEIR_DIR, search the queries judged in "
        "qrels/SPLIT.tsv and write one {query, positive, negatives} line per judged positive: "
        "the best hits that are not judged positives of the query.",
    )
    p.add_argument("dataset", metavar="BEIR_DIR", help="with corpus.jsonl, queries.jsonl, qrels/")
    p.add_argument("--model", required=True, metavar="DIR", help="a local model folder")
    p.add_argument("--output", required=True, metavar="FILE.jsonl", help="the triplets file")
    p.add_argument("--split", default="train", help="qrels split")
    p.add_argument(
        "--negatives",
        type=_positive_int,
        default=3,  # = training.mining.DEFAULT_NEGATIVES (tests/test_mine.py)
        metavar="N",
        help="negatives per line",
    )
    p.add_argument(
        "--depth",
        type=_positive_int,
        default=100,  # = training.mining.DEFAULT_DEPTH
        metavar="K",
        help="hits searched per query",
    )
    p.add_argument(
        "--skip-top",
        type=_count,
        default=0,
        metavar="S",
        help="non-positive hits skipped at the top of each ranking",
    )
    p.add_argument(
        "--index", metavar="DIR", help="build (or reuse) the index here (default: a temporary one)"
    )
    p.add_argument("--seed", type=_seed, default=0, help="k-means seed")
    _add_batch_size(p)
    _add_projection(p)
    _add_backend(p)
    p.set_defaults(parser=p)

    p = commands.add_parser(
        "train",
        parents=[common],
        help="train a model on triplets or distillation data",
        description="Fine-tune --model with training.fit (spec/trainer.md): checkpoints, the "
        "log, final/ and best/ go into --output; rerunning the same command resumes from the "
        "newest checkpoint. Options left out are read from --config (TOML, the same keys as "
        "the options, e.g. batch-size = 32), else take fit's defaults.",
    )
    # Every default is None: the TOML file fills what the command line leaves out (R-CLI-14).
    p.add_argument("--config", metavar="FILE.toml", help="options as TOML; flags win")
    p.add_argument("--model", metavar="DIR", help="a PyLate folder, or a bare backbone")
    p.add_argument(
        "--embedding-size",
        type=_positive_int,
        metavar="N",
        help="--model is a bare backbone: add a seeded projection of this size (seed --seed)",
    )
    p.add_argument("--triplets", metavar="FILE.jsonl", help="triplets JSONL")
    p.add_argument("--distillation", metavar="FILE.jsonl", help="distillation JSONL")
    p.add_argument("--queries", metavar="FILE", help="queries of --distillation")
    p.add_argument("--corpus", metavar="FILE", help="corpus of --distillation")
    p.add_argument("--output", metavar="DIR", help="checkpoints, log.jsonl, final/, best/")
    p.add_argument("--loss", choices=("contrastive", "cached-contrastive", "distillation"))
    p.add_argument("--mini-batch-size", type=_positive_int, metavar="N", help="cached-contrastive")
    p.add_argument(
        "--dropout",
        type=_number,
        metavar="P",
        help="the backbone's dropout rate in training, every position (default: its config's)",
    )
    p.add_argument(
        "--trainable",
        choices=("all", "projection"),
        help="what trains: every weight (default) or the projection alone, the backbone frozen",
    )
    p.add_argument("--temperature", type=_number, metavar="T", help="contrastive losses")
    p.add_argument("--epochs", type=_positive_int, metavar="N")
    p.add_argument("--batch-size", type=_positive_int, metavar="N")
    p.add_argument("--lr", type=_number, metavar="LR")
    p.add_argument("--warmup", type=_warmup, metavar="W", help="steps (10) or a fraction (0.1)")
    p.add_argument("--weight-decay", type=_number, metavar="WD")
    p.add_argument("--max-grad-norm", type=_number, metavar="N")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--precision", choices=("float32", "bfloat16"))
    p.add_argument("--checkpoint-every", type=_positive_int, metavar="N")
    p.add_argument("--dev", metavar="BEIR_DIR", help="nDCG@10 after each epoch")
    p.add_argument("--dev-split", metavar="SPLIT", help="qrels split of --dev (default test)")
    p.set_defaults(parser=p)
    return parser


def _add_batch_size(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--batch-size", type=_positive_int, default=32, metavar="N", help="texts encoded at a time"
    )


def _add_model_folder(p: argparse.ArgumentParser) -> None:
    """``--model DIR``: the index's model from another folder, fingerprint checked (R-CLI-21)."""
    p.add_argument(
        "--model",
        metavar="DIR",
        help="the index's model from this folder (it moved): its files must have the "
        "fingerprint the index recorded (default: the folder the index records)",
    )


def _add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=("torch", "numpy"),
        default=None,
        help="encoder backend (default: torch when installed, else numpy)",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="encoder arithmetic (default auto: documents in bfloat16 where this CPU runs it "
        "faster, AMX-BF16 or AMD with AVX512_BF16; queries and other CPUs in float32)",
    )
