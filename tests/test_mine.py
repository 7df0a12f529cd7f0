"""Hard-negative mining (spec/mining.md, ``lateint mine`` of spec/cli.md) on a generated BEIR
folder with the tiny BERT model and the NumPy backend: what is kept (the index's own top hits,
judged positives removed), the order, the determinism, the file and every error path."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import failed, lateint

from lateint_ref.errors import InputError
from lateint_ref.evaluation import beir
from lateint_ref.retrieval.retriever import Retriever
from lateint_ref.training.mining import FIELDS, mine, write_triplets

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
OTHER_MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-modernbert"
TOPICS = [
    "cats purr and sleep all day",
    "dogs bark at the mailman",
    "rust compiles to native code",
    "python is a snake and a language",
    "green tea brews at low heat",
    "bread rises with yeast",
    "ocean waves follow the tides",
    "mountain trails for hiking",
    "jazz musicians improvise",
    "chess openings and strategy",
]
DOCS = [(f"d{i:02d}", f"Doc {i}", f"{TOPICS[i % 10]}, variant {i}.") for i in range(20)]
QUERIES = [("q0", "cats purr"), ("q1", "dogs bark"), ("q2", "native code"), ("q3", "tea heat")]
QUERIES += [("q4", "unjudged query")]
# q0 has two positives; q2 a positive and a judged negative (relevance 0); q4 is not judged.
QRELS = [("q0", "d00", 1), ("q2", "d02", 2), ("q1", "d01", 1), ("q0", "d10", 1)]
QRELS += [("q2", "d12", 0), ("q3", "d04", 1)]
PAIRS = [("q0", "d00"), ("q0", "d10"), ("q2", "d02"), ("q1", "d01"), ("q3", "d04")]
FAST = {"backend": "numpy", "progress": False}


def write_dataset(
    root: Path,
    docs: list[tuple[str, str, str]] = DOCS,
    queries: list[tuple[str, str]] = QUERIES,
    qrels: list[tuple[str, str, int]] = QRELS,
    split: str = "train",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = [{"_id": i, "title": t, "text": x} for i, t, x in docs]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows = [{"_id": i, "text": t} for i, t in queries]
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{r}" for q, d, r in qrels]
    (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("beir") / "beir")


@pytest.fixture(scope="module")
def mined(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path]:
    """Triplets mined with 3 negatives and one skipped hit, and the index they came from."""
    index = tmp_path_factory.mktemp("index") / "idx"
    triplets = mine(dataset, MODEL, index_dir=index, n_negatives=3, depth=10, skip_top=1, **FAST)
    return triplets, index


def text_of() -> dict[str, str]:
    return {i: f"{t} {x}" for i, t, x in DOCS}  # R-BEIR-4: title and text joined


def expected(
    index: Path, qrels: list[tuple[str, str, int]], n: int, depth: int, skip: int
) -> dict[str, list[str]]:
    """R-MINE-3 computed from ``Retriever.search`` directly: each judged query's hits, its
    positives removed, ``skip`` skipped, the next ``n`` kept."""
    r = Retriever.open(index, backend="numpy")
    queries = dict(QUERIES)
    out = {}
    for qid in dict.fromkeys(q for q, _, _ in qrels):
        positives = {d for q, d, rel in qrels if q == qid and rel >= 1}
        (hits,) = r.search(queries[qid], k=depth)
        out[qid] = [d for d in hits.ids if d not in positives][skip : skip + n]
    return out


def mine_cli(*args: object) -> subprocess.CompletedProcess:
    """``lateint mine ARGS`` (NumPy backend unless one is given)."""
    return lateint("mine", *args)


# ---------------------------------------------------------------- what is mined


@pytest.mark.spec("R-MINE-1")
def test_one_triplet_per_judged_pair_in_qrels_order(mined: tuple[list[dict], Path]) -> None:
    """R-MINE-1: one line per (judged query, judged positive), in qrels order, with the query's
    text as written and the positive's text as BEIR joins it."""
    triplets, _ = mined
    texts, queries = text_of(), dict(QUERIES)
    assert [(t["query"], t["positive"]) for t in triplets] == [
        (queries[q], texts[d]) for q, d in PAIRS
    ]
    assert all(len(t["negatives"]) == 3 for t in triplets)


@pytest.mark.spec("R-MINE-3")
def test_no_negative_is_a_judged_positive(mined: tuple[list[dict], Path]) -> None:
    """R-MINE-3: a triplet never holds, among its negatives, a document judged relevant to its
    query (either positive of q0, in both of q0's lines), nor its own positive."""
    triplets, _ = mined
    texts, queries = text_of(), dict(QUERIES)
    for t in triplets:
        qid = next(q for q, text in QUERIES if text == t["query"])
        judged = {texts[d] for q, d, rel in QRELS if q == qid and rel >= 1}
        assert t["positive"] in judged
        assert not judged & set(t["negatives"]), (qid, t)
    assert queries["q0"] in {t["query"] for t in triplets}


@pytest.mark.spec("R-MINE-3", "R-MINE-4")
def test_negatives_are_the_index_top_hits_in_order(mined: tuple[list[dict], Path]) -> None:
    """R-MINE-3, R-MINE-4: the negatives are ``Retriever.search``'s own ranking of the index
    that mining built at ``index_dir``, positives removed, ``skip_top`` skipped, in order."""
    triplets, index = mined
    texts = text_of()
    want = expected(index, QRELS, n=3, depth=10, skip=1)
    got = {}
    for (qid, _), t in zip(PAIRS, triplets, strict=True):
        got.setdefault(qid, t["negatives"])
        assert t["negatives"] == got[qid]  # every line of a query has the same negatives
    assert got == {q: [texts[d] for d in ids] for q, ids in want.items()}


@pytest.mark.spec("R-MINE-3", "R-MINE-4")
def test_judged_negatives_are_kept(dataset: Path, mined: tuple[list[dict], Path]) -> None:
    """R-MINE-3: a document judged with relevance 0 stays a candidate negative: judging q2's
    best non-positive hit 0 leaves it first (index_dir reused, R-MINE-4)."""
    _, index = mined
    best = expected(index, QRELS, n=1, depth=10, skip=0)["q2"][0]
    qrels = [(q, d, r) for q, d, r in QRELS if (q, r) != ("q2", 0)] + [("q2", best, 0)]
    other = write_dataset(dataset.parent / "judged0", qrels=qrels)
    triplets = mine(other, MODEL, index_dir=index, n_negatives=2, depth=10, **FAST)
    (line,) = [t for t in triplets if t["query"] == dict(QUERIES)["q2"]]
    assert line["negatives"][0] == text_of()[best]


@pytest.mark.spec("R-MINE-5")
def test_short_rankings_are_dropped_and_counted(
    dataset: Path, mined: tuple[list[dict], Path]
) -> None:
    """R-MINE-5: with depth == n_negatives, a query whose positive is in its top hits has too
    few negatives: all its pairs are left out and named in ``dropped``; none left: an error."""
    _, index = mined
    r = Retriever.open(index, backend="numpy")
    queries = {"q0": "cats purr", "q1": "Doc 7 mountain trails for hiking, variant 7."}
    qrels = [("q0", "d02", 1), ("q1", "d07", 1)]
    other = write_dataset(dataset.parent / "short", queries=list(queries.items()), qrels=qrels)
    depth = 4
    hits = {q: r.search(t, k=depth)[0].ids for q, t in queries.items()}
    short = [q for q, d, _ in qrels if d in hits[q]]
    assert short == ["q1"], hits  # the query that is its positive's text finds it
    triplets = mine(other, MODEL, index_dir=index, n_negatives=depth, depth=depth, **FAST)
    assert triplets.dropped == ["q1"]
    assert triplets.dropped_pairs == 1
    assert [t["query"] for t in triplets] == ["cats purr"]
    only_short = write_dataset(
        dataset.parent / "only-short", queries=[("q1", queries["q1"])], qrels=[("q1", "d07", 1)]
    )
    with pytest.raises(InputError, match="R-MINE-5: no query"):
        mine(only_short, MODEL, index_dir=index, n_negatives=depth, depth=depth, **FAST)


@pytest.mark.spec("R-MINE-7")
def test_deterministic_and_independent_of_threads(
    dataset: Path, tmp_path: Path, mined: tuple[list[dict], Path]
) -> None:
    """R-MINE-7: two runs (temporary indexes, 1 and 2 threads) write the same bytes, and a
    temporary index gives what the index at ``index_dir`` gave."""
    files = []
    for threads in (1, 2):
        triplets = mine(dataset, MODEL, n_negatives=2, depth=8, threads=threads, **FAST)
        files.append(tmp_path / f"t{threads}.jsonl")
        assert write_triplets(files[-1], triplets) == len(PAIRS)
    assert files[0].read_bytes() == files[1].read_bytes()
    assert mine(dataset, MODEL, n_negatives=3, depth=10, skip_top=1, **FAST) == mined[0]


@pytest.mark.spec("R-MINE-6")
def test_file_format(dataset: Path, tmp_path: Path, mined: tuple[list[dict], Path]) -> None:
    """R-MINE-6: UTF-8 JSONL, one object per line with exactly query, positive, negatives (in
    that order), the same number of negatives on every line; bad triplets are refused."""
    triplets, _ = mined
    path = tmp_path / "t.jsonl"
    write_triplets(path, triplets)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(PAIRS)
    for line, t in zip(lines, triplets, strict=True):
        record = json.loads(line)
        assert list(record) == list(FIELDS)
        assert record == t
        assert isinstance(record["query"], str)
        assert isinstance(record["positive"], str)
        assert len(record["negatives"]) == 3
        assert all(isinstance(x, str) for x in record["negatives"])
    before = path.read_bytes()
    ok = {"query": "q", "positive": "p", "negatives": ["n1", "n2"]}
    bad = [
        [ok, {**ok, "negatives": ["n1"]}],
        [{"query": "q", "positive": "p"}],
        [{**ok, "extra": 1}],
        [{**ok, "negatives": []}],
        [{**ok, "query": 3}],
    ]
    for triplets_bad in bad:
        with pytest.raises(InputError, match="R-MINE-6"):
            write_triplets(path, triplets_bad)
    assert path.read_bytes() == before  # nothing written


# ---------------------------------------------------------------- bad input (Python API)


@pytest.mark.spec("R-MINE-1", "R-MINE-2")
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_negatives": 0}, "R-MINE-1: n_negatives must be an integer >= 1, got 0"),
        ({"depth": 0}, "R-MINE-1: depth must be an integer >= 1"),
        ({"skip_top": -1}, "R-MINE-1: skip_top must be an integer >= 0"),
        ({"depth": 3, "skip_top": 1, "n_negatives": 3}, "R-MINE-1: depth must be >= "),
        ({"n_negatives": True}, "R-MINE-1: n_negatives"),
        ({"n_negatives": 19, "depth": 100}, "R-MINE-2: the corpus has 20 documents"),
    ],
)
def test_bad_arguments(dataset: Path, kwargs: dict, match: str) -> None:
    """R-MINE-1, R-MINE-2: checked before anything is encoded."""
    with pytest.raises(InputError, match=match):
        mine(dataset, MODEL, **kwargs, **FAST)


@pytest.mark.spec("R-MINE-4", "R-RET-3")
def test_reused_index_must_hold_this_corpus(dataset: Path, tmp_path: Path) -> None:
    """R-MINE-4: an index of another model is refused (R-RET-3); one holding documents that are
    not in the corpus, too."""
    other = tmp_path / "other"
    Retriever.build(
        other, OTHER_MODEL, [("x", "some text"), ("y", "more")], backend="numpy", progress=False
    )
    with pytest.raises(InputError, match="R-RET-3"):
        mine(dataset, MODEL, index_dir=other, **FAST)
    bigger = tmp_path / "bigger"
    corpus = [*beir.load_corpus(dataset), ("stray", "a document of no corpus")]
    Retriever.build(bigger, MODEL, corpus, backend="numpy", progress=False)
    with pytest.raises(InputError, match=r"R-MINE-4: .* 1 documents .* 'stray'"):
        mine(dataset, MODEL, index_dir=bigger, **FAST)


# ---------------------------------------------------------------- the command line


@pytest.mark.spec("R-CLI-5", "R-CLI-13")
def test_cli_writes_what_the_api_writes(dataset: Path, tmp_path: Path) -> None:
    """R-CLI-13: ``lateint mine`` writes the bytes of ``write_triplets(mine(...))`` and prints
    a summary (``--json``: one object)."""
    api = tmp_path / "api.jsonl"
    write_triplets(api, mine(dataset, MODEL, n_negatives=2, depth=9, skip_top=1, **FAST))
    cli = tmp_path / "cli.jsonl"
    args = ["--negatives", 2, "--depth", 9, "--skip-top", 1, "--json"]
    result = mine_cli(dataset, "--model", MODEL, "--output", cli, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # R-CLI-5
    summary = json.loads(result.stdout)
    assert summary["triplets"] == len(PAIRS)
    assert summary["dropped_queries"] == 0
    assert cli.read_bytes() == api.read_bytes()
    text = mine_cli(
        dataset, "--model", MODEL, "--output", tmp_path / "t.jsonl", "--index", tmp_path / "idx"
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"mined {len(PAIRS)} triplets with 3 negatives")
    assert (tmp_path / "t.jsonl").read_bytes() == mine_bytes(dataset, tmp_path / "idx")


def mine_bytes(dataset: Path, index: Path) -> bytes:
    path = index.parent / "again.jsonl"
    write_triplets(path, mine(dataset, MODEL, index_dir=index, **FAST))
    return path.read_bytes()


CLI_USAGE_ERRORS = {
    "negatives zero": (["--negatives", "0"], "R-CLI-3"),
    "depth not a number": (["--depth", "ten"], "R-CLI-3"),
    "skip-top negative": (["--skip-top", "-1"], "R-CLI-3"),
    "depth below skip-top + negatives": (["--depth", "3", "--skip-top", "1"], "R-CLI-13"),
}


@pytest.mark.spec("R-CLI-3", "R-CLI-13")
@pytest.mark.parametrize(("argv", "rule"), CLI_USAGE_ERRORS.values(), ids=CLI_USAGE_ERRORS.keys())
def test_cli_usage_errors_exit_2(argv: list[str], rule: str, tmp_path: Path) -> None:
    """R-CLI-13, R-CLI-3: exit 2 with the usage, before any file is read or written."""
    out = tmp_path / "t.jsonl"
    result = mine_cli(tmp_path / "no-such-dataset", "--model", MODEL, "--output", out, *argv)
    assert failed(result, 2).startswith(f"{rule}: ")
    assert result.stderr.startswith("usage: lateint mine")
    assert not out.exists()
    assert failed(mine_cli(tmp_path, "--model", MODEL), 2).startswith("R-CLI-3: ")  # no --output


@pytest.mark.spec("R-BEIR-1", "R-CLI-13", "R-MINE-2")
def test_cli_bad_data_exits_1(dataset: Path, tmp_path: Path) -> None:
    """R-MINE-2, R-CLI-13: bad data fails with exit 1 and the broken rule, nothing written."""
    queries = [*QUERIES[:3], ("q3", "   ")]
    cases = {
        "no such split": (dataset, ["--split", "dev"], "R-BEIR-1: no such file: "),
        "no judged positive": (
            write_dataset(tmp_path / "a", qrels=[*QRELS, ("q4", "d05", 0)]),
            [],
            "R-MINE-2: query 'q4' of train.tsv has no judged positive",
        ),
        "empty query": (
            write_dataset(tmp_path / "b", queries=queries),
            [],
            "R-MINE-2: query 'q3' of train.tsv has an empty text",
        ),
        "unknown document": (
            write_dataset(tmp_path / "c", qrels=[*QRELS, ("q1", "d99", 1)]),
            [],
            "R-MINE-2: train.tsv judges document 'd99' for query 'q1'",
        ),
        "corpus too small": (
            write_dataset(tmp_path / "d", docs=DOCS[:5], qrels=[("q0", "d00", 1)]),
            ["--negatives", "5"],
            "R-MINE-2: the corpus has 5 documents",
        ),
        "missing dataset": (tmp_path / "nope", [], "R-BEIR-1: no such folder: "),
    }
    out = tmp_path / "t.jsonl"
    for name, (folder, argv, message) in cases.items():
        result = mine_cli(folder, "--model", MODEL, "--output", out, *argv)
        assert failed(result, 1).startswith(message), name
        assert not out.exists(), name


@pytest.mark.spec("R-CLI-13")
def test_cli_defaults_are_the_api_defaults() -> None:
    """R-CLI-13: the parser's defaults are ``mine``'s (kept apart so ``--help`` loads nothing)."""
    import inspect

    from lateint_ref.cli.parser import build

    args = build().parse_args(["mine", "beir", "--model", "m", "--output", "t.jsonl"])
    params = inspect.signature(mine).parameters
    assert (args.negatives, args.depth, args.skip_top, args.split, args.seed) == (
        params["n_negatives"].default,
        params["depth"].default,
        params["skip_top"].default,
        params["split"].default,
        params["seed"].default,
    )
    assert args.batch_size == params["batch_size"].default
    assert args.index is None


@pytest.mark.spec("R-MINE-6", "R-TDATA-3")
def test_mined_file_reads_as_training_triplets(
    tmp_path: Path, mined: tuple[list[dict], Path]
) -> None:
    """R-MINE-6 with R-TDATA-3: what `mine` writes is what the trainer's reader takes."""
    from lateint_ref.training.data import read_triplets

    triplets, _ = mined
    path = tmp_path / "t.jsonl"
    write_triplets(path, triplets)
    read = read_triplets(path)
    assert len(read) == len(triplets)
    assert read.num_negatives == 3
    for example, t in zip(read, triplets, strict=True):
        assert example.query == t["query"]
        assert example.documents == [t["positive"], *t["negatives"]]


@pytest.mark.spec("R-MINE-2", "R-MINE-3")
def test_blank_documents_are_never_negatives(tmp_path: Path) -> None:
    """R-MINE-3: a document whose text is empty is no negative; R-MINE-2: a blank judged
    positive is refused before encoding."""
    docs = [*DOCS, ("blank1", "", "   "), ("blank2", "", "")]
    root = write_dataset(tmp_path / "beir", docs=docs)
    triplets = mine(root, MODEL, n_negatives=3, depth=len(docs), **FAST)
    assert all(n.strip() for t in triplets for n in t["negatives"])
    q = QRELS[0][0]
    bad = write_dataset(tmp_path / "bad", docs=docs, qrels=[*QRELS, (q, "blank1", 1)])
    with pytest.raises(InputError, match=r"R-MINE-2: .*'blank1'.*empty"):
        mine(bad, MODEL, n_negatives=3, depth=len(docs), **FAST)
