"""The table of the bad-input sweep, ``lateint`` part (tests/test_bad_input_sweep.py): each
command run in-process through the entry point's ``main``; a failure must exit non-zero with one
``lateint: error:`` line citing the requirement and naming the bad value, and no traceback."""

from __future__ import annotations

from typing import Any

from sweep_core import cli_bad, cli_ok, group
from sweep_fixtures import TINY_BERT

M = str(TINY_BERT)
group("cli")

cli_bad(
    "index",
    "a missing corpus",
    lambda fx: [fx.missing("no-corpus"), "--model", M, "--index", fx.path("i")],
    "R-CLI-4",
    "no-corpus",
    code=1,
)
cli_bad(
    "index",
    "a missing model",
    lambda fx: [fx.beir(), "--model", fx.missing("no-model"), "--index", fx.path("i")],
    "R-RET-2",
    "no-model",
    code=1,
)
cli_bad(
    "index",
    "a model folder without tokenizer.json",
    lambda fx: [
        fx.beir(),
        "--model",
        fx.model_copy(edit=lambda p: (p / "tokenizer.json").unlink()),
        "--index",
        fx.path("i"),
    ],
    "R-ENC-3",
    "tokenizer.json",
    code=1,
)
cli_bad(
    "index",
    "a corpus line not JSON",
    lambda fx: [
        fx.beir(corpus='{"_id": "a", "text": "x"}\n{oops\n'),
        "--model",
        M,
        "--index",
        fx.path("i"),
    ],
    "R-BEIR-6",
    "line 2",
    code=1,
)
cli_bad(
    "index",
    "a corpus not UTF-8",
    lambda fx: [
        fx.beir(corpus=b'{"_id": "a", "text": "\xff"}\n'),
        "--model",
        M,
        "--index",
        fx.path("i"),
    ],
    "R-CLI-20",
    "line 1",
    code=1,
)
cli_bad(
    "index",
    "a lone surrogate escape",
    lambda fx: [
        fx.beir(corpus='{"_id": "a", "text": "\\udcff"}\n'),
        "--model",
        M,
        "--index",
        fx.path("i"),
    ],
    "R-BEIR-6",
    "lone surrogate",
    code=1,
)
cli_bad(
    "index",
    "--nbits 3",
    lambda fx: [fx.beir(), "--model", M, "--index", fx.path("i"), "--nbits", "3"],
    "R-CLI-3",
    "3",
    code=2,
)
cli_bad(
    "index",
    "--batch-size 0",
    lambda fx: [fx.beir(), "--model", M, "--index", fx.path("i"), "--batch-size", "0"],
    "R-CLI-3",
    "0",
    code=2,
)
cli_bad(
    "index",
    "--threads -1",
    lambda fx: [fx.beir(), "--model", M, "--index", fx.path("i"), "--threads", "-1"],
    "R-CLI-3",
    "-1",
    code=2,
)
cli_bad(
    "index",
    "--encoding nope",
    lambda fx: [fx.beir(), "--model", M, "--index", fx.path("i"), "--encoding", "nope"],
    "R-CLI-3",
    "R-CLI-20",
    "'nope'",
    code=2,
)
cli_bad(
    "index",
    "--index a file",
    lambda fx: [fx.beir(), "--model", M, "--index", fx.file("x", "idx-file")],
    "R-RET-3",
    "idx-file",
    code=1,
)
cli_bad(
    "index",
    "an index of a newer format",
    lambda fx: [fx.beir(), "--model", M, "--index", fx.newer_index("codec")],
    "R-INDEX-2",
    "format version 99",
    code=1,
)
cli_bad(
    "search",
    "a missing index",
    lambda fx: ["--index", fx.missing("no-idx"), "wing"],
    "R-CLI-4",
    "no-idx",
    code=1,
)
cli_bad(
    "search",
    "an index file where the folder goes",
    lambda fx: ["--index", fx.file("x", "idx-f"), "wing"],
    "R-CLI-4",
    "idx-f: Not a directory",
    code=1,
)
cli_bad(
    "search",
    "an index of raw vectors",
    lambda fx: ["--index", fx.index_dir, "wing"],
    "R-RET-2",
    code=1,
)
cli_bad(
    "search",
    "--k 0",
    lambda fx: ["--index", fx.retriever_dir, "--k", "0", "wing"],
    "R-CLI-3",
    "0",
    code=2,
)
cli_bad(
    "search",
    "--k -5",
    lambda fx: ["--index", fx.retriever_dir, "--k", "-5", "wing"],
    "R-CLI-3",
    "-5",
    code=2,
)
cli_bad(
    "search",
    "--k abc",
    lambda fx: ["--index", fx.retriever_dir, "--k", "abc", "wing"],
    "R-CLI-3",
    "abc",
    code=2,
)
cli_bad(
    "search",
    "--allow missing",
    lambda fx: ["--index", fx.retriever_dir, "--allow", fx.missing("no-allow"), "wing"],
    "R-CLI-4",
    "no-allow",
    code=1,
)
cli_bad(
    "search",
    "--queries not JSON",
    lambda fx: [
        "--index",
        fx.retriever_dir,
        "--queries",
        fx.file("{x\n", "q.jsonl"),
        "--output",
        fx.path("run.tsv"),
    ],
    "R-BEIR-6",
    "line 1",
    code=1,
)
cli_bad(
    "search",
    "an index of a newer format",
    lambda fx: ["--index", fx.newer_index("manifest"), "wing"],
    "R-INDEX-2",
    "format version 99",
    code=1,
)


def lines_with(n: int) -> Any:
    def check(r: Any) -> None:
        assert len([x for x in r.stdout.splitlines() if x.strip()]) >= n, r.stdout

    return check


cli_ok(
    "search",
    "--k beyond the collection: every document",
    lambda fx: ["--index", fx.retriever_dir, "--k", "1000", "--json", "wing"],
    lambda r: None if all(d in r.stdout for d in ("d1", "d2", "d3", "d4")) else 1 / 0,
)
cli_ok(
    "search",
    "an empty query",
    lambda fx: ["--index", fx.retriever_dir, "--k", "2", ""],
    lines_with(1),
)
cli_bad(
    "eval",
    "a missing dataset",
    lambda fx: ["--index", fx.retriever_dir, "--dataset", fx.missing("no-ds")],
    "R-BEIR-1",
    "no-ds",
    code=1,
)
cli_bad(
    "eval",
    "a split with no qrels",
    lambda fx: ["--index", fx.retriever_dir, "--dataset", fx.beir(), "--split", "dev"],
    "R-BEIR-1",
    "dev",
    code=1,
)
cli_bad(
    "eval",
    "a qrels score 'x'",
    lambda fx: [
        "--index",
        fx.retriever_dir,
        "--dataset",
        fx.beir(qrels="query-id\tcorpus-id\tscore\nq1\td1\tx\n"),
    ],
    "R-EVAL-12",
    "line 2",
    code=1,
)
cli_bad(
    "eval",
    "--k 0",
    lambda fx: ["--index", fx.retriever_dir, "--dataset", fx.beir(), "--k", "0"],
    "R-CLI-3",
    "0",
    code=2,
)
cli_bad(
    "encode",
    "a missing model",
    lambda fx: ["--model", fx.missing("no-m"), "text"],
    "R-RET-2",
    "no-m",
    code=1,
)
cli_bad(
    "encode",
    "a truncated safetensors",
    lambda fx: [
        "--model",
        fx.model_copy(
            edit=lambda p: (p / "model.safetensors").write_bytes(
                (p / "model.safetensors").read_bytes()[:1000]
            )
        ),
        "text",
    ],
    "R-ENC-3",
    "model.safetensors",
    code=1,
)
cli_bad(
    "encode",
    "--batch-size 0",
    lambda fx: ["--model", M, "--batch-size", "0", "text"],
    "R-CLI-3",
    "0",
    code=2,
)
cli_bad(
    "encode",
    "--output into a missing folder",
    lambda fx: ["--model", M, "--output", fx.missing("no-dir") / "o.npz", "t"],
    "R-CLI-4",
    "no-dir",
    code=1,
)
cli_ok("encode", "an empty text", lambda fx: ["--model", M, ""], lines_with(1))
cli_bad(
    "info", "a missing index", lambda fx: ["--index", fx.missing("no-i")], "R-CLI-4", "no-i", code=1
)
cli_bad(
    "info",
    "a truncated segment",
    lambda fx: ["--index", _truncated(fx)],
    "R-INDEX-2",
    "segment-1.lti",
    code=1,
)
cli_bad(
    "add",
    "a missing corpus",
    lambda fx: ["--index", fx.retriever_dir, fx.missing("no-c")],
    "R-CLI-4",
    "no-c",
    code=1,
)
cli_bad(
    "add",
    "a live id",
    lambda fx: ["--index", _ret_copy(fx), fx.jsonl([{"_id": "d1", "text": "again"}])],
    "R-INDEX-5",
    "d1",
    code=1,
)
cli_bad(
    "delete",
    "an unknown id",
    lambda fx: ["--index", _ret_copy(fx), "zz"],
    "R-INDEX-10",
    "zz",
    code=1,
)
cli_bad(
    "delete",
    "a missing --ids file",
    lambda fx: ["--index", _ret_copy(fx), "--ids", fx.missing("no-ids")],
    "R-CLI-4",
    "no-ids",
    code=1,
)
cli_bad(
    "delete",
    "a missing index",
    lambda fx: ["--index", fx.missing("no-i"), "d1"],
    "R-CLI-4",
    "no-i",
    code=1,
)
cli_bad(
    "compact",
    "a missing index",
    lambda fx: ["--index", fx.missing("no-i")],
    "R-CLI-4",
    "no-i",
    code=1,
)
cli_bad(
    "compact",
    "an index of a newer format",
    lambda fx: ["--index", fx.newer_index("codec")],
    "R-INDEX-2",
    "format version 99",
    code=1,
)
cli_bad(
    "mine",
    "a missing dataset",
    lambda fx: [fx.missing("no-ds"), "--model", M, "--output", fx.path("t.jsonl")],
    "R-BEIR-1",
    "no-ds",
    code=1,
)
cli_bad(
    "mine",
    "--negatives 0",
    lambda fx: [fx.beir(), "--model", M, "--output", fx.path("t.jsonl"), "--negatives", "0"],
    "R-CLI-3",
    "0",
    code=2,
)
group("training")  # `lateint train` imports torch, which this group's child has loaded
cli_bad(
    "train",
    "a triplets field wrong",
    lambda fx: [
        "--model",
        M,
        "--triplets",
        fx.jsonl([{"query": "q", "positive": 5, "negative": "n"}]),
        "--output",
        fx.path("out"),
    ],
    "R-TDATA-3",
    "line 1",
    code=1,
)
cli_bad(
    "train",
    "a missing triplets file",
    lambda fx: ["--model", M, "--triplets", fx.missing("no-t.jsonl"), "--output", fx.path("out")],
    "R-TDATA-1",
    "no-t.jsonl",
    code=1,
)
cli_bad(
    "train",
    "a config that is not TOML",
    lambda fx: ["--config", fx.file("a = [", "c.toml")],
    "R-CLI-14",
    "c.toml",
)
cli_bad("train", "--lr abc", lambda fx: ["--model", M, "--lr", "abc"], "R-CLI-3", "abc", code=2)
cli_bad("train", "--epochs 0", lambda fx: ["--model", M, "--epochs", "0"], "R-CLI-3", "0", code=2)


def _truncated(fx: Any) -> Any:
    p = fx.index_copy()
    seg = next(p.glob("segment-*.lti"))
    seg.write_bytes(seg.read_bytes()[:-9])
    return p


def _ret_copy(fx: Any) -> Any:
    import shutil

    p = fx.path("ret-copy")
    shutil.copytree(fx.retriever_dir, p)
    return p
