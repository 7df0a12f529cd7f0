"""The metrics area: an outside evaluator against spec/conformance/metrics-v1.json
(spec/evaluation.md; values of trec_eval 9 as pytrec_eval exposes them).

The implementation is ``f(run, qrels, metrics)``: ``run`` ``{qid: {doc id: score}}`` (each
ranking in the order the case gives it), ``qrels`` ``{qid: {doc id: relevance}}``, ``metrics``
names such as ``ndcg@10``, ``recall@100``, ``mrr@10``, ``map@100``. It returns per-query values
``{qid: {metric: value}}`` (checked per query, and the set of queries against R-EVAL-8) or means
``{metric: value}`` (checked as means). Each (case, metric) is one case of the report, under the
requirement the case is about (ties: R-EVAL-2, relevance levels: R-EVAL-3, which queries:
R-EVAL-8) or, for the plain cases, the metric's own (R-EVAL-4 to R-EVAL-7); tolerance 1e-6
absolute, the agreement spec/evaluation.md states.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lateint_ref.conformance import vectors
from lateint_ref.conformance.report import Case, Report

FILE = "metrics-v1.json"
METRIC_REQUIREMENT = {
    "ndcg": "R-EVAL-4",
    "recall": "R-EVAL-5",
    "mrr": "R-EVAL-6",
    "map": "R-EVAL-7",
}
# trec_eval's names for the per-query lines of an --outputs folder.
TREC_NAMES = {"ndcg_cut_": "ndcg@", "recall_": "recall@", "map_cut_": "map@"}

Evaluator = Callable[[dict[str, Any], dict[str, Any], list[str]], Any]


def load(spec: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The cases and the spec version of the metric vectors."""
    data = vectors.load_json(spec / "conformance" / FILE)
    return data["cases"], {data["spec"]: data["spec_version"]}


def _run(case: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {q: {d: float(s) for d, s in ranking} for q, ranking in case["run"].items()}


def _requirement(case: dict[str, Any], metric: str) -> str:
    return str(case.get("requirement") or METRIC_REQUIREMENT[metric.split("@")[0]])


def check_case(case: dict[str, Any], got: Any, tolerance: float) -> list[Case]:
    """The checks of one case given the evaluator's output."""
    name, metrics = case["id"], case["metrics"]
    if not isinstance(got, dict):
        return [
            Case(_requirement(case, m), f"{name}/{m}", False, detail="output not a dict")
            for m in metrics
        ]
    per_query = bool(got) and all(isinstance(v, dict) for v in got.values())
    out = []
    if per_query:
        want_q, got_q = set(case["per_query"]), {str(q) for q in got}
        ok = want_q == got_q
        detail = "" if ok else f"queries {sorted(got_q)}, expected {sorted(want_q)}"
        out.append(Case("R-EVAL-8", f"{name}/queries", ok, detail=detail))
        got = {str(q): v for q, v in got.items()}
    for metric in metrics:
        label = f"{name}/{metric}"
        requirement = _requirement(case, metric)
        if per_query:
            pairs = [
                (q, want[metric], got[q].get(metric))
                for q, want in case["per_query"].items()
                if q in got
            ]
        else:
            pairs = [("mean", case["mean"][metric], got.get(metric))]
        if not pairs:
            out.append(Case(requirement, label, False, detail="no query in common"))
            continue
        missing = [q for q, _, g in pairs if g is None]
        if missing:
            out.append(Case(requirement, label, False, detail=f"no {metric} for {missing[0]}"))
            continue
        errors = [(abs(float(g) - w), q, w, float(g)) for q, w, g in pairs]
        worst, q, w, g = max(errors)
        ok = worst <= tolerance
        detail = "" if ok else f"{q}: {g:.9g}, expected {w:.9g}"
        out.append(Case(requirement, label, ok, worst, tolerance, detail))
    return out


def check(impl: Evaluator, spec: Path, name: str) -> Report:
    """Every metric case through ``impl``."""
    cases, versions = load(spec)
    report = Report("metrics", name, versions)
    tolerance = float(vectors.load_json(spec / "conformance" / FILE)["tolerance"])
    for case in cases:
        try:
            got = impl(_run(case), case["qrels"], list(case["metrics"]))
        except Exception as e:
            detail = f"raised {type(e).__name__}: {e}"[:200]
            for metric in case["metrics"]:
                report.add(
                    Case(_requirement(case, metric), f"{case['id']}/{metric}", False, detail=detail)
                )
            continue
        for c in check_case(case, got, tolerance):
            report.add(c)
    return report


# --- The --outputs layout --------------------------------------------------------------------


def export(spec: Path, folder: Path) -> int:
    """Writes each case as ``<case>/qrels.txt`` (TREC qrels: ``qid 0 docid relevance``),
    ``<case>/run.txt`` (TREC run: ``qid Q0 docid rank score conformance``, each ranking in the
    case's order, ranks 1, 2, ...; a query with an empty ranking has no line) and
    ``<case>/metrics.txt`` (one metric name a line); ``cases.json`` lists the cases."""
    cases, _ = load(spec)
    for case in cases:
        d = folder / case["id"]
        d.mkdir(parents=True, exist_ok=True)
        qrels = [
            f"{q} 0 {doc} {rel}\n"
            for q, judged in case["qrels"].items()
            for doc, rel in judged.items()
        ]
        (d / "qrels.txt").write_text("".join(qrels), encoding="utf-8")
        run = [
            f"{q} Q0 {doc} {rank} {float(score)!r} conformance\n"
            for q, ranking in case["run"].items()
            for rank, (doc, score) in enumerate(ranking, 1)
        ]
        (d / "run.txt").write_text("".join(run), encoding="utf-8")
        (d / "metrics.txt").write_text("".join(f"{m}\n" for m in case["metrics"]))
    ids = [c["id"] for c in cases]
    (folder / "cases.json").write_text(json.dumps({"area": "metrics", "cases": ids}, indent=1))
    return len(cases)


def metric_name(name: str) -> str:
    """Our name of a metric written as ours (``ndcg@10``) or as trec_eval's (``ndcg_cut_10``)."""
    for trec, ours in TREC_NAMES.items():
        if name.startswith(trec) and name[len(trec) :].isdigit():
            return ours + name[len(trec) :]
    return name


def read_results(path: Path) -> dict[str, Any]:
    """An evaluator's ``results.txt``: lines ``metric qid value`` (trec_eval ``-q`` output, or
    our metric names); qid ``all`` is the mean. Per-query values when any line names a query,
    else the means."""
    per_query: dict[str, dict[str, float]] = {}
    means: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        metric, qid, value = metric_name(fields[0]), fields[1], float(fields[2])
        if qid == "all":
            means[metric] = value
        else:
            per_query.setdefault(qid, {})[metric] = value
    return per_query or means


def check_outputs(spec: Path, folder: Path, name: str) -> Report:
    """Every case from ``<case>/results.txt`` written by another evaluator from the exported
    files. A case whose run has a query with an empty ranking cannot be written as a TREC run
    (such a query has no line) and is skipped."""
    cases, versions = load(spec)
    report = Report("metrics", name, versions)
    tolerance = float(vectors.load_json(spec / "conformance" / FILE)["tolerance"])
    for case in cases:
        labels = [(_requirement(case, m), f"{case['id']}/{m}") for m in case["metrics"]]
        if any(not ranking for ranking in case["run"].values()):
            for requirement, label in labels:
                report.add(Case(requirement, label, None, detail="empty ranking: no TREC line"))
            continue
        path = folder / case["id"] / "results.txt"
        if not path.is_file():
            for requirement, label in labels:
                report.add(Case(requirement, label, False, detail=f"no {path.name}"))
            continue
        for c in check_case(case, read_results(path), tolerance):
            report.add(c)
    return report
