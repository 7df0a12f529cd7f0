"""The maxsim area: an outside MaxSim against spec/vectors/maxsim.json (spec/maxsim.md).

The implementation is ``f(queries, documents) -> scores``: ``queries`` and ``documents`` lists of
``[n_tokens, dim]`` NumPy arrays (float32, but of the case's dtype for the float16 and invalid
cases), ``scores`` an ``[n_queries, n_docs]`` array (anything ``numpy.asarray`` reads, torch
tensors included). Which group checks which requirement:

- ``exact_small_integers``: R-MAXSIM-1, scores exact (integer inputs, exact float32 arithmetic);
- ``negative_similarity``: R-MAXSIM-1, every similarity negative: padding must not compete;
- ``random_unit``, ``search`` (its scores) and ``boundary``: R-MAXSIM-10, within the per-score
  bound stated in the vectors, the float16 case of ``boundary`` under R-MAXSIM-5 (float16 read
  exactly); every case with queries of two lengths in one call also checks R-MAXSIM-2 (shape);
- ``invalid`` (the cases a plain function can receive): the call MUST raise (any exception),
  under the requirement each case names (R-MAXSIM-5, R-MAXSIM-7, R-MAXSIM-8, R-MAXSIM-9).

The ``bfloat16`` group and the API-specific invalid cases (storage, pairwise, threads, k,
packed offsets) need lateint-ref's own API and are left to tests/test_vectors.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.conformance import vectors
from lateint_ref.conformance.report import Case, Report

MaxSim = Callable[[list[np.ndarray], list[np.ndarray]], Any]

SCORED_GROUPS = {
    "exact_small_integers": "R-MAXSIM-1",
    "negative_similarity": "R-MAXSIM-1",
    "random_unit": "R-MAXSIM-10",
    "boundary": "R-MAXSIM-10",
    "search": "R-MAXSIM-10",
}
# Invalid cases a plain f(queries, documents) can be given (the others need lateint-ref's API).
PLAIN_INVALID = {"call", "storage", "threads", "k", "packed_offsets"}


@dataclass
class Vector:
    """One case: its name, requirement, inputs, and the expected scores and bounds (None for a
    case that must raise)."""

    name: str
    requirement: str
    queries: list[np.ndarray]
    documents: list[np.ndarray]
    scores: np.ndarray | None
    bound: np.ndarray | None


def _inputs(case: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    dtype = case.get("dtype", "float32")
    mats = [m for m in case["queries"] + case["documents"] if m]
    dim = len(mats[0][0]) if mats else 1
    return (
        [vectors.matrix(q, dtype, dim) for q in case["queries"]],
        [vectors.matrix(d, dtype, dim) for d in case["documents"]],
    )


def load(spec: Path) -> tuple[list[Vector], dict[str, Any]]:
    """The cases of spec/vectors/maxsim.json the kit checks, and the file's spec versions."""
    data = vectors.load_json(spec / "vectors" / "maxsim.json")
    out = []
    for group in data["groups"]:
        for case in group["cases"]:
            name = f"{group['name']}/{case['id']}"
            queries, documents = _inputs(case)
            if group["name"] in SCORED_GROUPS:
                requirement = SCORED_GROUPS[group["name"]]
                if case.get("dtype") == "float16":
                    requirement = "R-MAXSIM-5"
                want = np.array(case["scores"], dtype=np.float64)
                bound = np.array(case["bound"], dtype=np.float64)
                out.append(Vector(name, requirement, queries, documents, want, bound))
                if len(queries) > 1 and len({len(q) for q in queries}) > 1:
                    out.append(Vector(name, "R-MAXSIM-2", queries, documents, want, None))
            elif group["name"] == "invalid" and not PLAIN_INVALID & set(case):
                out.append(Vector(name, case["error"], queries, documents, None, None))
    return out, {"spec/maxsim.md": data.get("spec_version")}


def check_case(v: Vector, call: Callable[[], Any]) -> Case:
    """Runs one case through ``call`` (which returns the scores or raises)."""
    try:
        got = call()
    except Exception as e:
        if v.scores is None:
            return Case(v.requirement, v.name, True, detail=f"raised {type(e).__name__}")
        return Case(v.requirement, v.name, False, detail=f"raised {type(e).__name__}: {e}"[:200])
    if v.scores is None:
        return Case(v.requirement, v.name, False, detail="returned scores instead of raising")
    try:
        scores = np.asarray(_numpy(got), dtype=np.float64)
    except (TypeError, ValueError) as e:
        return Case(v.requirement, v.name, False, detail=f"output not an array: {e}"[:200])
    if scores.shape != v.scores.shape:
        detail = f"shape {scores.shape}, expected {v.scores.shape}"
        return Case(v.requirement, v.name, False, detail=detail)
    if v.bound is None:  # the shape check of R-MAXSIM-2
        return Case(v.requirement, v.name, True)
    error = np.abs(scores - v.scores)
    excess = np.where(np.isnan(error), np.inf, error - v.bound)
    worst = float(np.nanmax(error)) if not np.isnan(error).any() else float("nan")
    tolerance = float(v.bound.max())
    if (excess <= 0).all():
        return Case(v.requirement, v.name, True, worst, tolerance)
    i, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
    detail = (
        f"score[{i}][{j}] = {scores[i, j]:.9g}, expected {v.scores[i, j]:.9g} "
        f"(bound {v.bound[i, j]:.3g})"
    )
    return Case(v.requirement, v.name, False, worst, tolerance, detail)


def _numpy(x: Any) -> Any:
    """A torch tensor (or anything with ``detach``/``numpy``) as a NumPy array."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.float().numpy() if hasattr(x, "float") else x.numpy()
    return x


def check(impl: MaxSim, spec: Path, name: str) -> Report:
    """Every maxsim case through ``impl``."""
    cases, versions = load(spec)
    report = Report("maxsim", name, versions)
    for v in cases:
        report.add(check_case(v, lambda v=v: impl(v.queries, v.documents)))  # type: ignore[misc]
    return report


# --- The --outputs layout --------------------------------------------------------------------


def _file_stem(name: str) -> str:
    return name.replace("/", "__")


def export(spec: Path, folder: Path) -> int:
    """Writes every case's inputs under ``folder``: ``<group>__<case>.npz`` with arrays ``q0``,
    ``q1``, ... and ``d0``, ``d1``, ... (in order, of the case's dtype), and ``cases.json``
    listing the stems. Returns the number of cases."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = []
    for v in _unique(load(spec)[0]):
        arrays = {f"q{i}": q for i, q in enumerate(v.queries)}
        arrays |= {f"d{j}": d for j, d in enumerate(v.documents)}
        stem = _file_stem(v.name)
        np.savez(folder / f"{stem}.npz", **arrays)  # type: ignore[arg-type]
        stems.append(stem)
    (folder / "cases.json").write_text(json.dumps({"area": "maxsim", "cases": stems}, indent=1))
    return len(stems)


def _unique(cases: list[Vector]) -> Iterator[Vector]:
    seen = set()
    for v in cases:
        if v.name not in seen:
            seen.add(v.name)
            yield v


def read_inputs(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The queries and documents of an exported ``.npz`` case."""
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.keys())
        q = [z[f"q{i}"] for i in range(sum(k.startswith("q") for k in keys))]
        d = [z[f"d{j}"] for j in range(sum(k.startswith("d") for k in keys))]
    return q, d


def check_outputs(spec: Path, folder: Path, name: str) -> Report:
    """Every case from the files another implementation wrote: ``<stem>.scores.npy`` (its
    ``[n_queries, n_docs]`` scores), or ``<stem>.error`` (any content) where it raised."""
    cases, versions = load(spec)
    report = Report("maxsim", name, versions)
    for v in cases:
        stem = folder / _file_stem(v.name)

        error, scores = Path(f"{stem}.error"), Path(f"{stem}.scores.npy")
        if not error.exists() and not scores.exists():
            detail = f"no output: neither {scores.name} nor {error.name}"
            report.add(Case(v.requirement, v.name, False, detail=detail))
            continue

        def call(error: Path = error, scores: Path = scores) -> Any:
            if error.exists():
                raise RuntimeError(error.read_text(errors="replace")[:100])
            return np.load(scores, allow_pickle=False)

        report.add(check_case(v, call))
    return report
