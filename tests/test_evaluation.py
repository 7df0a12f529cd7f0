"""Evaluation (spec/evaluation.md §1) against pytrec_eval (trec_eval 9) on real collections.

Runs are produced without a model: a small term-overlap scorer (BM25-like weights rounded so that
many documents tie) and seeded random integer scores over judged and unjudged documents (heavy
ties). pytrec_eval (``pytrec-eval-terrier``) is a test dependency that ``make venv`` installs; it is
imported plainly so that a missing install fails rather than skips.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import pytrec_eval
from conftest import beir_collection
from hypothesis import given
from hypothesis import strategies as st

from lateint_ref import InputError
from lateint_ref.evaluation import (
    evaluate,
    map_at,
    mrr,
    ndcg,
    ranked,
    read_qrels,
    read_run,
    recall,
    write_run,
)
from lateint_ref.evaluation.beir import load_dataset

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ["scifact", "cranfield", "vaswani"]
TOL = 1e-6
# Our metric name -> pytrec_eval measure and its result key.
TREC = {
    "ndcg@1": ("ndcg_cut.1", "ndcg_cut_1"),
    "ndcg@3": ("ndcg_cut.3", "ndcg_cut_3"),
    "ndcg@10": ("ndcg_cut.10", "ndcg_cut_10"),
    "ndcg@100": ("ndcg_cut.100", "ndcg_cut_100"),
    "recall@2": ("recall.2", "recall_2"),
    "recall@10": ("recall.10", "recall_10"),
    "recall@100": ("recall.100", "recall_100"),
    "recall@1000": ("recall.1000", "recall_1000"),
    "map@3": ("map_cut.3", "map_cut_3"),
    "map@10": ("map_cut.10", "map_cut_10"),
    "map@1000": ("map_cut.1000", "map_cut_1000"),
}


# ----------------------------------------------------------------------------- real runs


def _data(name: str) -> Path:
    return beir_collection(name)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


_RUNS: dict[tuple[str, str], tuple[dict, dict]] = {}


def real_run(name: str, kind: str) -> tuple[dict, dict]:
    """``(run, qrels)`` on collection ``name``: ``kind`` = "overlap" (term-overlap scores rounded
    to 1 decimal, every document sharing a rare-enough term) or "random" (judged documents plus
    200 unjudged ones, seeded integer scores 0..4)."""
    if (name, kind) in _RUNS:
        return _RUNS[name, kind]
    corpus, queries, qrels = load_dataset(_data(name), "test")
    docs = list(corpus)
    if kind == "overlap":
        postings: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for did, text in docs:
            for term, tf in Counter(_tokens(text)).items():
                postings[term].append((did, tf))
        n = len(docs)
        run = {}
        for qid, text in queries.items():
            scores: dict[str, float] = defaultdict(float)
            for term in set(_tokens(text)):
                plist = postings.get(term, [])
                if not plist or len(plist) > n // 5:
                    continue
                idf = math.log(1 + n / len(plist))
                for did, tf in plist:
                    scores[did] += idf * tf / (tf + 1.2)
            run[qid] = {d: round(s, 1) for d, s in scores.items()}
    else:
        rng = random.Random(f"{name}-random")
        ids = [d for d, _ in docs]
        run = {}
        for qid in queries:
            pool = set(qrels[qid]) | set(rng.sample(ids, 200))
            run[qid] = {d: float(rng.randint(0, 4)) for d in sorted(pool)}
    _RUNS[name, kind] = (run, qrels)
    return run, qrels


def reference(run: dict, qrels: dict, metrics: list[str]) -> dict[str, dict[str, float]]:
    """pytrec_eval's per-query values, under our metric names (MRR@k on the top-k ranking)."""
    measures = {TREC[m][0] for m in metrics if m in TREC}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run) if measures else {}
    out: dict[str, dict[str, float]] = {q: {} for q in per_query}
    for m in metrics:
        if m in TREC:
            for q, values in per_query.items():
                out[q][m] = values[TREC[m][1]]
        else:  # mrr@k: recip_rank of the ranking cut to its top k (R-EVAL-6)
            k = int(m.split("@")[1])
            cut = {q: dict(ranked(r, q)[:k]) for q, r in run.items()}
            rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
            for q, values in rr.items():
                out.setdefault(q, {})[m] = values["recip_rank"]
    return out


ALL = [*TREC, "mrr@1", "mrr@10", "mrr@100"]


@pytest.mark.spec(
    "R-EVAL-2", "R-EVAL-3", "R-EVAL-4", "R-EVAL-5", "R-EVAL-6", "R-EVAL-7", "R-EVAL-8", "R-EVAL-9"
)
@pytest.mark.parametrize("kind", ["overlap", "random"])
@pytest.mark.parametrize("name", COLLECTIONS)
def test_agrees_with_pytrec_eval_on_real_runs(name: str, kind: str) -> None:
    # R-EVAL-2 R-EVAL-3 R-EVAL-4 R-EVAL-5 R-EVAL-6 R-EVAL-7 R-EVAL-8 R-EVAL-9
    run, qrels = real_run(name, kind)
    ref = reference(run, qrels, ALL)
    ours = evaluate(run, qrels, ALL, per_query=True)
    assert set(ours) == set(ref) == {q for q in run if q in qrels}
    n_ties = sum(len(r) - len(set(r.values())) for r in run.values())
    assert n_ties > 0  # the runs do exercise the tie rule
    for q in ref:
        for m in ALL:
            assert ours[q][m] == pytest.approx(ref[q][m], abs=TOL), (q, m)
    means = evaluate(run, qrels, ALL)
    for m in ALL:
        assert means[m] == pytest.approx(sum(v[m] for v in ref.values()) / len(ref), abs=TOL)
    assert means["ndcg@10"] > (0.05 if kind == "overlap" else 0.0)  # a non-trivial run
    assert ndcg(run, qrels, 10) == means["ndcg@10"]
    assert recall(run, qrels, 100) == means["recall@100"]
    assert mrr(run, qrels, 10) == means["mrr@10"]
    assert map_at(run, qrels, 1000) == means["map@1000"]


@pytest.mark.spec("R-EVAL-3", "R-EVAL-4")
def test_graded_cranfield_uses_raw_relevance_as_gain() -> None:
    # R-EVAL-3 R-EVAL-4: Cranfield's codes -1..4; a binarised qrels gives another nDCG
    run, qrels = real_run("cranfield", "overlap")
    assert {r for j in qrels.values() for r in j.values()} == {-1, 1, 2, 3, 4}
    binary = {q: {d: int(r >= 1) for d, r in j.items()} for q, j in qrels.items()}
    graded, flat = ndcg(run, qrels, 10), ndcg(run, binary, 10)
    assert abs(graded - flat) > 1e-3
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    assert graded == pytest.approx(sum(v["ndcg_cut_10"] for v in ref.values()) / len(ref), abs=TOL)


@pytest.mark.spec("R-EVAL-2", "R-EVAL-10")
def test_run_file_round_trip_with_pytrec_eval(tmp_path: Path) -> None:
    # R-EVAL-10: our file is read by pytrec_eval's parser, and ours reads it back exactly
    run, _ = real_run("scifact", "overlap")
    path = tmp_path / "run.tsv"
    write_run(path, run, tag="overlap")
    lines = path.read_text().splitlines()
    first = lines[0].split(" ")
    assert len(first) == 6
    assert (first[1], first[3], first[5]) == ("Q0", "1", "overlap")
    assert read_run(path) == {q: {d: float(s) for d, s in r.items()} for q, r in run.items()}
    with path.open() as f:
        parsed = pytrec_eval.parse_run(f)
    assert parsed == read_run(path)
    # ranks in the file follow R-EVAL-2
    q = first[0]
    assert [ln.split()[2] for ln in lines if ln.split()[0] == q] == [d for d, _ in ranked(run[q])]


@pytest.mark.spec("R-EVAL-11")
def test_qrels_files_both_formats(tmp_path: Path) -> None:
    # R-EVAL-11: the BEIR tsv and the same judgments as TREC qrels read alike (and as pytrec_eval)
    beir = _data("cranfield") / "qrels" / "test.tsv"
    qrels = read_qrels(beir)
    assert sum(len(j) for j in qrels.values()) == 1837
    trec = tmp_path / "qrels.txt"
    trec.write_text("".join(f"{q} 0 {d} {r}\n" for q, j in qrels.items() for d, r in j.items()))
    assert read_qrels(trec) == qrels
    with trec.open() as f:
        assert pytrec_eval.parse_qrel(f) == qrels


# ----------------------------------------------------------------------------- ties, policy


@pytest.mark.spec("R-EVAL-2")
def test_ties_broken_by_doc_id_descending() -> None:
    # R-EVAL-2: equal scores -> the greater doc id (code points, like strcmp on UTF-8) first
    qrels = {"q": {"a1": 1}}
    for run in ({"q": {"a1": 1.0, "a2": 1.0}}, {"q": [("a2", 1.0), ("a1", 1.0)]}):
        assert mrr(run, qrels, 10) == 0.5
    run = {"q": {"a1": 1.0, "é": 1.0, "z": 1.0}}  # "é" (U+00E9) > "z" > "a1"
    assert [d for d, _ in ranked(run["q"])] == ["é", "z", "a1"]
    ref = pytrec_eval.RelevanceEvaluator({"q": {"z": 1}}, {"recip_rank"}).evaluate(run)
    assert mrr(run, {"q": {"z": 1}}, 10) == ref["q"]["recip_rank"] == 0.5
    assert ranked({"b": -0.0, "a": 0.0}) == [("b", -0.0), ("a", 0.0)]  # -0.0 == 0.0: a tie


@pytest.mark.spec("R-EVAL-2")
def test_ties_are_decided_in_float32() -> None:
    # R-EVAL-2: trec_eval keeps scores as C floats; float64 differences below that are ties
    qrels = {"q": {"d1": 1}}
    close = {"q": {"d1": 1.0 + 1e-12, "d2": 1.0}}
    tiny = {"q": {"d1": 1e-46, "d2": 0.0}}  # both round to 0 in float32
    huge = {"q": {"d1": 1e39, "d2": 1e38}}  # 1e39 rounds to +inf, 1e38 stays finite
    for run, expected in ((close, 0.5), (tiny, 0.5), (huge, 1.0)):
        ref = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
        assert mrr(run, qrels, 10) == ref["q"]["recip_rank"] == expected
    assert ranked(close["q"]) == [("d2", 1.0), ("d1", 1.0 + 1e-12)]  # scores kept as given


@pytest.mark.spec("R-EVAL-8")
def test_missing_queries_policy() -> None:
    # R-EVAL-8: skip (pytrec_eval) or zero (trec_eval -c); run-only queries are ignored
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}}
    run = {"q1": {"d1": 1.0}, "q2": {}, "extra": {"d1": 1.0}}
    assert set(evaluate(run, qrels, ["ndcg@10"], per_query=True)) == {"q1", "q2"}
    assert ndcg(run, qrels) == 0.5
    assert ndcg(run, qrels, missing="zero") == pytest.approx(1 / 3)
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    assert set(ref) == {"q1", "q2"}
    zero = evaluate(run, qrels, ["recall@5"], per_query=True, missing="zero")
    assert zero == {"q1": {"recall@5": 1.0}, "q2": {"recall@5": 0.0}, "q3": {"recall@5": 0.0}}
    with pytest.raises(InputError, match="R-EVAL-8"):
        ndcg({"other": {"d1": 1.0}}, qrels)
    with pytest.raises(InputError, match="R-EVAL-8"):
        ndcg(run, qrels, missing="drop")


@pytest.mark.spec("R-EVAL-3")
def test_query_without_relevant_documents_counts_zero() -> None:
    # R-EVAL-3: only non-positive judgments -> 0 in every metric, as pytrec_eval
    qrels = {"q": {"d1": 0, "d2": 0}}
    run = {"q": {"d1": 2.0, "d2": 1.0}}
    ours = evaluate(run, qrels, ["ndcg@10", "recall@10", "map@10", "mrr@10"])
    assert ours == {"ndcg@10": 0.0, "recall@10": 0.0, "map@10": 0.0, "mrr@10": 0.0}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10"}).evaluate(run)
    assert ref["q"] == {"ndcg_cut_10": 0.0, "recall_10": 0.0}


@pytest.mark.spec("R-EVAL-2")
def test_rankings_are_not_truncated() -> None:
    # R-EVAL-2: a relevant document at rank 2502 still counts
    run = {"q": {f"z{i:05d}": float(-i) for i in range(3000)}}
    run["q"]["d"] = -2500.5
    qrels = {"q": {"d": 1}}
    assert mrr(run, qrels, 3000) == pytest.approx(1 / 2502)
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    assert ref["q"]["recip_rank"] == pytest.approx(1 / 2502)
    assert recall(run, qrels, 2501) == 0.0
    assert recall(run, qrels, 2502) == 1.0


@pytest.mark.spec("R-EVAL-1")
def test_hits_like_rankings_and_int_ids() -> None:
    # R-EVAL-1: objects with ids/scores (an index's Hits), int ids read as text
    class Hits:
        def __init__(self, ids: list, scores: list) -> None:
            self.ids, self.scores = ids, scores

    qrels = {"7": {"3": 2, "5": 1}}
    hits = {7: Hits([5, 3, 9], [0.9, 0.8, 0.1])}
    pairs = {"7": [("5", 0.9), ("3", 0.8), ("9", 0.1)]}
    assert evaluate(hits, qrels) == evaluate(pairs, qrels)
    assert evaluate(hits, qrels)["map@100"] == 1.0


# ----------------------------------------------------------------------------- properties

DOC_IDS = st.sampled_from([f"d{i}" for i in range(12)] + ["D", "é", "z9", "10", "9"])


@st.composite
def run_and_qrels(draw: st.DrawFn) -> tuple[dict, dict]:
    """A few queries; rels -1..4 with at least one >= 0 per query (trec_eval reuses stale level
    counts for a query whose every judgment is negative); scores with many ties."""
    n_queries = draw(st.integers(1, 4))
    run, qrels = {}, {}
    integer_scores = draw(st.booleans())
    near = st.sampled_from([1.0, 1.0 + 1e-12, 1.0 - 1e-9, 3e-88, 0.0, -0.0, 1e39, 1e38])
    score = (
        st.integers(-2, 3).map(float)
        if integer_scores
        else st.one_of(near, st.floats(-1e40, 1e40, allow_nan=False, allow_infinity=False))
    )
    for i in range(n_queries):
        q = f"q{i}"
        judged = draw(st.dictionaries(DOC_IDS, st.integers(-1, 4), min_size=1, max_size=8))
        if max(judged.values()) < 0:
            judged[next(iter(judged))] = 0
        qrels[q] = judged
        run[q] = draw(st.dictionaries(DOC_IDS, score, max_size=15))
    return run, qrels


PROPERTY_METRICS = ["ndcg@1", "ndcg@3", "ndcg@10", "recall@2", "recall@10", "map@3", "map@10"]
PROPERTY_METRICS += ["mrr@1", "mrr@5"]


@pytest.mark.spec("R-EVAL-2", "R-EVAL-3", "R-EVAL-4", "R-EVAL-5", "R-EVAL-6", "R-EVAL-7")
@given(run_and_qrels())
def test_property_agrees_with_pytrec_eval(data: tuple[dict, dict]) -> None:
    # R-EVAL-2 R-EVAL-3 R-EVAL-4 R-EVAL-5 R-EVAL-6 R-EVAL-7
    run, qrels = data
    ours = evaluate(run, qrels, PROPERTY_METRICS, per_query=True)
    ref = reference(run, qrels, PROPERTY_METRICS)
    assert set(ours) == set(ref)
    for q in ref:
        for m in PROPERTY_METRICS:
            assert ours[q][m] == pytest.approx(ref[q][m], abs=1e-9), (q, m)


@pytest.mark.spec("R-EVAL-1", "R-EVAL-2")
@given(run_and_qrels(), st.randoms(use_true_random=False))
def test_property_bounds_and_order_invariance(data: tuple[dict, dict], rnd: random.Random) -> None:
    # R-EVAL-1 R-EVAL-2: values in [0, 1]; the order and form a ranking is given in do not matter
    run, qrels = data
    values = evaluate(run, qrels, PROPERTY_METRICS, per_query=True)
    assert all(0.0 <= v <= 1.0 for per in values.values() for v in per.values())
    shuffled = {}
    for q, r in run.items():
        pairs = list(r.items())
        rnd.shuffle(pairs)
        shuffled[q] = pairs
    assert evaluate(shuffled, qrels, PROPERTY_METRICS, per_query=True) == values


@pytest.mark.spec("R-EVAL-4", "R-EVAL-5", "R-EVAL-6", "R-EVAL-7")
@given(run_and_qrels())
def test_property_perfect_ranking_scores_one(data: tuple[dict, dict]) -> None:
    # R-EVAL-4..7: relevant documents ranked by relevance give 1 (when the query has any)
    _, qrels = data
    perfect = {q: {d: float(r) for d, r in j.items() if r >= 1} for q, j in qrels.items()}
    per = evaluate(perfect, qrels, ["ndcg@3", "recall@20", "map@20", "mrr@1"], per_query=True)
    for q, v in per.items():
        expected = 1.0 if any(r >= 1 for r in qrels[q].values()) else 0.0
        assert v["ndcg@3"] == pytest.approx(expected)
        assert v["recall@20"] == v["map@20"] == v["mrr@1"] == expected


@pytest.mark.spec("R-EVAL-8")
@given(run_and_qrels())
def test_property_missing_zero_scales_the_mean(data: tuple[dict, dict]) -> None:
    # R-EVAL-8: dropping queries from the run lowers the "zero" mean by the share dropped
    run, qrels = data
    kept = dict(list(run.items())[: max(1, len(run) // 2)])
    skip = ndcg(kept, qrels, 10)
    zero = ndcg(kept, qrels, 10, missing="zero")
    assert zero == pytest.approx(skip * len(kept) / len(qrels))


@pytest.mark.spec("R-EVAL-10")
@given(
    st.dictionaries(
        st.text("abcé1", min_size=1, max_size=4),
        st.dictionaries(
            st.text("xyz09", min_size=1, max_size=3),
            st.floats(allow_nan=False, allow_infinity=False),
            max_size=6,
        ),
        max_size=4,
    )
)
def test_property_run_file_round_trip(run: dict) -> None:
    # R-EVAL-10: every float64 score reads back exactly
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.txt"
        write_run(path, run, tag="t")
        back = read_run(path)
    assert back == {q: r for q, r in run.items() if r}


# ----------------------------------------------------------------------------- errors


@pytest.mark.spec("R-EVAL-1", "R-EVAL-2")
@pytest.mark.parametrize(
    ("run", "qrels", "match"),
    [
        ({"q": {"d": float("nan")}}, {"q": {"d": 1}}, "R-EVAL-1: .*finite"),
        ({"q": {"d": True}}, {"q": {"d": 1}}, "R-EVAL-1: .*number"),
        ({"q": {"d": "1.0"}}, {"q": {"d": 1}}, "R-EVAL-1: .*number"),
        ({"q": {"d": 1.0}}, {"q": {"d": 1.5}}, "R-EVAL-1: .*integer"),
        ({"q": {"d": 1.0}}, {"q": {"d": True}}, "R-EVAL-1: .*integer"),
        ({"q": {1.5: 1.0}}, {"q": {"d": 1}}, "R-EVAL-1: .*str or an int"),
        ({"q": {"": 1.0}}, {"q": {"d": 1}}, "R-EVAL-1: .*empty"),
        ({"q": "d1"}, {"q": {"d": 1}}, "R-EVAL-1: .*ranking"),
        ({"q": [("d", 1.0, 2)]}, {"q": {"d": 1}}, "R-EVAL-1: .*pair"),
        ({"q": [("d", 1.0), ("d", 2.0)]}, {"q": {"d": 1}}, "R-EVAL-2: .*twice"),
        ({"q": {"d": 1.0}, 5: {}, "5": {}}, {"q": {"d": 1}}, "R-EVAL-1: .*twice"),
        ([("q", {"d": 1.0})], {"q": {"d": 1}}, "R-EVAL-1: run must be"),
        ({"q": {"d": 1.0}}, {"q": [("d", 1)]}, "R-EVAL-1: qrels of query"),
    ],
)
def test_bad_inputs(run: object, qrels: object, match: str) -> None:
    # R-EVAL-1 R-EVAL-2
    with pytest.raises(InputError, match=match):
        evaluate(run, qrels)


@pytest.mark.spec("R-EVAL-9")
@pytest.mark.parametrize("metric", ["ndcg", "ndcg@0", "ndcg@-1", "foo@10", "ndcg@1.5", "NDCG@10"])
def test_bad_metric_names(metric: str) -> None:
    # R-EVAL-9
    with pytest.raises(InputError, match="R-EVAL-9"):
        evaluate({"q": {"d": 1.0}}, {"q": {"d": 1}}, [metric])


@pytest.mark.spec("R-EVAL-9")
@pytest.mark.parametrize("k", [0, -3, 2.0, True, "10"])
def test_bad_cutoffs(k: object) -> None:
    # R-EVAL-9
    for fn in (ndcg, recall, mrr, map_at):
        with pytest.raises(InputError, match="R-EVAL-9"):
            fn({"q": {"d": 1.0}}, {"q": {"d": 1}}, k)


@pytest.mark.spec("R-EVAL-10")
def test_write_run_rejects_whitespace(tmp_path: Path) -> None:
    # R-EVAL-10
    with pytest.raises(InputError, match="R-EVAL-10: document id"):
        write_run(tmp_path / "r", {"q": {"a b": 1.0}})
    with pytest.raises(InputError, match="R-EVAL-10: tag"):
        write_run(tmp_path / "r", {"q": {"a": 1.0}}, tag="my run")
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.spec("R-EVAL-12")
@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("q Q0 d 1 1.0 t\nq Q0 e 2 0.5\n", 2, "6 fields"),
        ("q Q0 d 1 1.0 t\n\nq Q0 e x 0.5 t\n", 3, "bad rank or score"),
        ("q Q0 d 1 high t\n", 1, "bad rank or score"),
        ("q Q0 d 1 nan t\n", 1, "not finite"),
        ("q Q0 d 1 1.0 t\nq Q0 d 2 0.5 t\n", 2, "listed twice"),
    ],
)
def test_malformed_run_files(tmp_path: Path, text: str, line: int, what: str) -> None:
    # R-EVAL-12
    path = tmp_path / "run.txt"
    path.write_text(text)
    with pytest.raises(InputError, match="R-EVAL-12") as err:
        read_run(path)
    assert f"{path} line {line}:" in str(err.value)
    assert what in str(err.value)


@pytest.mark.spec("R-EVAL-11", "R-EVAL-12")
@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("query-id\tcorpus-id\tscore\nq\td\t1\nq\td2\tx\n", 3, "not an integer"),
        ("query-id\tcorpus-id\tscore\nq\td\t1\nq\td2\n", 3, "expected 3 fields"),
        ("q 0 d 1\nq 0 d 2\n", 2, "judged 1 and 2"),
        ("q d\n", 1, "got 2 fields"),
        ("q 0 d 1.5\n", 1, "not an integer"),
    ],
)
def test_malformed_qrels_files(tmp_path: Path, text: str, line: int, what: str) -> None:
    # R-EVAL-11 R-EVAL-12
    path = tmp_path / "qrels.tsv"
    path.write_text(text)
    with pytest.raises(InputError, match="R-EVAL-12") as err:
        read_qrels(path)
    assert f"{path} line {line}:" in str(err.value)
    assert what in str(err.value)


@pytest.mark.spec("R-EVAL-11", "R-EVAL-12")
def test_qrels_duplicates_and_non_utf8(tmp_path: Path) -> None:
    # R-EVAL-11: the same judgment twice is fine; R-EVAL-12: bytes that are not UTF-8
    path = tmp_path / "qrels.txt"
    path.write_text("q 0 d 2\nq 0 d 2\nq 0 e -1\n")
    assert read_qrels(path) == {"q": {"d": 2, "e": -1}}
    path.write_bytes(b"q 0 d 1\nq 0 \xff 1\n")
    with pytest.raises(InputError, match=r"R-EVAL-12: .* line 2: not UTF-8"):
        read_qrels(path)
    with pytest.raises(FileNotFoundError):
        read_qrels(tmp_path / "absent.tsv")
