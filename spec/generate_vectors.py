"""Generates spec/vectors/maxsim.json from spec/oracle/maxsim.py.

    python spec/generate_vectors.py           # (re)write the vectors
    python spec/generate_vectors.py --check   # fail if the committed file differs from a fresh run

Each group names the storage, the requirement its tolerance comes from, and its cases. Arrays are
nested lists of float32 values written in decimal (parse each as float32; every number round-trips
through float64 too); non-finite values are the strings "nan", "inf" and "-inf"; an empty list is
a matrix of zero tokens with the dim of the case's other matrices. The file holds one case per
line, so that a change shows as a readable diff. Expected scores
are the float64 oracle; ``bound`` is the allowed absolute error of each score. Generators avoid
near-ties: in every ``search`` case neighbouring ranks differ by more than twice the bound, unless
they are exact ties (equal float64 scores of exactly representable inputs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle

OUT = Path(__file__).resolve().parent / "vectors" / "maxsim.json"
SCHEMA = "lateint-ref/maxsim-vectors/v1"


def f32(x: float) -> str | float:
    """One float32 value as JSON: the shortest decimal that round-trips (also through float64)."""
    v = np.float32(x)
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    s = np.format_float_positional(v, unique=True, trim="-")
    if np.float32(float(s)) != v:
        s = repr(float(v))
    return float(s) if s.lstrip("-").replace(".", "", 1).isdigit() else s


def encode(a: np.ndarray) -> list:
    """A float array as nested lists of JSON numbers (non-finite values as strings)."""
    a = np.asarray(a)
    if a.ndim == 1:
        return [f32(x) for x in a]
    return [encode(row) for row in a]


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``[n, dim]`` float32 rows of unit norm."""
    x = rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def scored_case(case_id: str, queries, documents, storage: str = "float32", **extra) -> dict:
    """A valid case with oracle scores and the per-score bound of its storage."""
    bound = oracle.bound_bf16 if storage == "bfloat16" else oracle.bound_f32
    return {
        "id": case_id,
        "queries": [encode(q) for q in queries],
        "documents": [encode(d) for d in documents],
        "scores": oracle.maxsim(queries, documents).tolist(),
        "bound": [[bound(q, d) for d in documents] for q in queries],
        **extra,
    }


def group_exact(rng: np.random.Generator) -> dict:
    """Small integers: every product and sum is exact in float32, so scores match exactly."""
    cases = []
    for n, (q_len, dim, lengths) in enumerate(
        [(1, 1, [1]), (3, 2, [1, 2, 5]), (17, 5, [4, 1, 33])]
    ):
        qs = [rng.integers(-4, 5, (q_len, dim)).astype(np.float32)]
        ds = [rng.integers(-4, 5, (m, dim)).astype(np.float32) for m in lengths]
        case = scored_case(f"exact-{n}", qs, ds)
        case["bound"] = [[0.0] * len(ds) for _ in qs]
        cases.append(case)
    # Exact ties: duplicated documents must rank by the lower index (R-SEARCH-1).
    q = rng.integers(-3, 4, (4, 3)).astype(np.float32)
    d0, d1 = (rng.integers(-3, 4, (m, 3)).astype(np.float32) for m in (2, 5))
    docs = [d1, d0, d1, d0, d1]
    _scores, idx = oracle.search_exact([q], docs, 4)
    case = scored_case("exact-ties", [q], docs, k=4, top_indices=idx.tolist())
    case["bound"] = [[0.0] * len(docs)]
    cases.append(case)
    return {
        "name": "exact_small_integers",
        "description": "integer inputs; float32 arithmetic is exact, so scores equal the oracle",
        "storage": "float32",
        "tolerance": "exact",
        "cases": cases,
    }


def group_random(rng: np.random.Generator) -> dict:
    """Unit-norm embeddings over the shapes the kernels block differently."""
    cases = []
    shapes = [
        (1, 1, [1, 2]),
        (15, 3, [1, 7, 20]),
        (16, 16, [5, 16]),
        (17, 17, [3, 40]),
        (32, 128, [1, 13, 180]),
        (33, 129, [2, 31]),
        (64, 31, [9, 64]),
        (100, 8, [50, 3]),
    ]
    for n, (q_len, dim, lengths) in enumerate(shapes):
        qs = [unit(rng, q_len, dim), unit(rng, max(1, q_len // 3), dim)]
        ds = [unit(rng, m, dim) for m in lengths]
        cases.append(scored_case(f"random-{n}-q{q_len}-d{dim}", qs, ds))
    return {
        "name": "random_unit",
        "description": "L2-normalised random embeddings, varied query lengths, dims and lengths",
        "storage": "float32",
        "tolerance": "R-MAXSIM-10",
        "cases": cases,
    }


def group_boundary(rng: np.random.Generator) -> dict:
    """One token, dim 1, a long document, a wide dim, large and tiny magnitudes."""
    cases = [
        scored_case(
            "one-token-dim-1", [np.array([[0.5]], np.float32)], [np.array([[-2.0]], np.float32)]
        ),
        scored_case("long-document", [unit(rng, 5, 4)], [unit(rng, 3000, 4), unit(rng, 1, 4)]),
        scored_case("wide-dim-768", [unit(rng, 3, 768)], [unit(rng, 2, 768)]),
        scored_case(
            "magnitudes",
            [(unit(rng, 4, 6) * np.float32(1e15)).astype(np.float32)],
            [(unit(rng, 3, 6) * np.float32(1e-12)).astype(np.float32), unit(rng, 2, 6)],
        ),
        scored_case(
            "float16-values",
            [unit(rng, 3, 5).astype(np.float16).astype(np.float32)],
            [unit(rng, 4, 5).astype(np.float16).astype(np.float32)],
            dtype="float16",
        ),
    ]
    return {
        "name": "boundary",
        "description": "1 token, dim 1, 3000-token document, dim 768, extreme magnitudes, float16",
        "storage": "float32",
        "tolerance": "R-MAXSIM-10",
        "cases": cases,
    }


def group_negative(rng: np.random.Generator) -> dict:
    """Every similarity negative: zero-padding peers disagree with R-MAXSIM-1 here."""
    cases = []
    for n in range(3):
        q = np.abs(unit(rng, 6, 8))
        docs = [-np.abs(unit(rng, m, 8)) for m in (2, 9, 4)]
        longest = max(len(d) for d in docs)
        case = scored_case(f"negative-{n}", [q], docs)
        case["zero_padded_scores"] = [[oracle.padded_zero_score(q, d, longest) for d in docs]]
        cases.append(case)
    return {
        "name": "negative_similarity",
        "description": (
            "all similarities negative; zero_padded_scores is what a peer padding documents to "
            "the longest with zeros that compete in the max returns (informative, not R-MAXSIM-1)"
        ),
        "storage": "float32",
        "tolerance": "R-MAXSIM-10",
        "cases": cases,
    }


def group_bf16(rng: np.random.Generator) -> dict:
    """bfloat16 storage: scores of the unrounded inputs, bound of R-MAXSIM-11."""
    cases = []
    for n, (q_len, dim, lengths) in enumerate(
        [(32, 128, [20, 3]), (7, 17, [5, 1, 12]), (1, 1, [2])]
    ):
        qs = [unit(rng, q_len, dim)]
        ds = [unit(rng, m, dim) for m in lengths]
        case = scored_case(f"bf16-{n}", qs, ds, storage="bfloat16")
        rq = [oracle.round_bf16(q) for q in qs]
        rd = [oracle.round_bf16(d) for d in ds]
        case["scores_of_rounded_inputs"] = oracle.maxsim(rq, rd).tolist()
        cases.append(case)
    return {
        "name": "bfloat16",
        "description": "Documents(storage='bfloat16'); scores are of the unrounded inputs",
        "storage": "bfloat16",
        "tolerance": "R-MAXSIM-11",
        "cases": cases,
    }


def group_search(rng: np.random.Generator) -> dict:
    """Top-k with k below, equal to and above n_docs; no near-ties."""
    cases = []
    for n, (k, n_docs) in enumerate([(3, 12), (12, 12), (20, 7), (1, 30)]):
        while True:
            qs = [unit(rng, int(rng.integers(1, 20)), 16) for _ in range(3)]
            ds = [unit(rng, int(rng.integers(1, 40)), 16) for _ in range(n_docs)]
            scores = oracle.maxsim(qs, ds)
            bounds = np.array([[oracle.bound_f32(q, d) for d in ds] for q in qs])
            gaps = np.diff(np.sort(scores, axis=1), axis=1)
            if (gaps > 4 * bounds.max()).all():
                break
        _, idx = oracle.search_exact(qs, ds, k)
        cases.append(
            scored_case(f"search-{n}-k{k}-n{n_docs}", qs, ds, k=k, top_indices=idx.tolist())
        )
    return {
        "name": "search",
        "description": "search_exact top indices; neighbouring scores differ by > 4x the bound",
        "storage": "float32",
        "tolerance": "R-MAXSIM-10",
        "cases": cases,
    }


def invalid(case_id: str, error: str, queries, documents, **extra) -> dict:
    """A case that MUST raise InputError citing ``error``."""
    return {
        "id": case_id,
        "error": error,
        "queries": [encode(q) for q in queries],
        "documents": [encode(d) for d in documents],
        **extra,
    }


def group_invalid(rng: np.random.Generator) -> dict:
    """Inputs every implementation must reject, each with its requirement."""
    q, d = unit(rng, 3, 4), unit(rng, 5, 4)
    nan_q = q.copy()
    nan_q[1, 2] = np.nan
    inf_d = d.copy()
    inf_d[4, 0] = -np.inf
    huge = d.copy()
    huge[0, 0] = np.float32(3.4e38)
    cases = [
        invalid("dim-mismatch", "R-MAXSIM-7", [q], [unit(rng, 5, 3)]),
        invalid("empty-query", "R-MAXSIM-8", [np.zeros((0, 4), np.float32)], [d]),
        invalid("empty-document", "R-MAXSIM-8", [q], [d, np.zeros((0, 4), np.float32)]),
        invalid("nan-in-query", "R-MAXSIM-9", [nan_q], [d]),
        invalid("inf-in-document", "R-MAXSIM-9", [q], [d, inf_d]),
        invalid("float64-dtype", "R-MAXSIM-5", [q], [d], dtype="float64"),
        invalid("int32-dtype", "R-MAXSIM-5", [q], [d], dtype="int32"),
        invalid("bf16-overflow", "R-MAXSIM-11", [q], [huge], storage="bfloat16"),
        invalid("unknown-storage", "R-MAXSIM-11", [q], [d], storage="float8"),
        invalid("pairwise-count", "R-MAXSIM-12", [q, q], [d], call="maxsim_pairwise"),
        invalid("threads-zero", "R-MAXSIM-13", [q], [d], threads=0),
        invalid("k-zero", "R-SEARCH-2", [q], [d], call="search_exact", k=0),
        invalid("offsets-not-from-zero", "R-MAXSIM-4", [q], [], packed_offsets=[1, 5]),
        invalid("offsets-decreasing", "R-MAXSIM-4", [q], [], packed_offsets=[0, 4, 2, 5]),
        invalid("offsets-wrong-end", "R-MAXSIM-4", [q], [], packed_offsets=[0, 2, 4]),
    ]
    for c in cases:
        if "packed_offsets" in c:
            c["packed_vectors"] = encode(d)
    return {
        "name": "invalid",
        "description": (
            "each case MUST raise InputError citing `error`; `dtype` (default float32) is the "
            "element type to pass; `call` (default maxsim) the function; `packed_offsets` with "
            "`packed_vectors` replaces `documents` by the packed form; `storage` builds "
            "Documents(storage=...) first"
        ),
        "storage": "float32",
        "tolerance": "error",
        "cases": cases,
    }


def build() -> str:
    """The vector file's text."""
    rng = np.random.default_rng(20261125)
    doc = {
        "_comment": "generated by spec/generate_vectors.py from spec/oracle/maxsim.py; do not edit",
        "schema": SCHEMA,
        "spec": "spec/maxsim.md",
        "groups": [
            group_exact(rng),
            group_random(rng),
            group_boundary(rng),
            group_negative(rng),
            group_bf16(rng),
            group_search(rng),
            group_invalid(rng),
        ],
    }
    return dumps(doc)


def dumps(doc: dict) -> str:
    """JSON with one line per case (compact inside a case)."""

    def compact(x: object) -> str:
        return json.dumps(x, separators=(",", ":"), allow_nan=False)

    lines = ["{"]
    lines += [f"{compact(key)}:{compact(doc[key])}," for key in ("_comment", "schema", "spec")]
    lines.append('"groups":[')
    for gi, group in enumerate(doc["groups"]):
        head = {key: value for key, value in group.items() if key != "cases"}
        lines.append(compact(head)[:-1] + ',"cases":[')
        cases = group["cases"]
        lines += [compact(c) + ("," if ci + 1 < len(cases) else "") for ci, c in enumerate(cases)]
        lines.append("]}" + ("," if gi + 1 < len(doc["groups"]) else ""))
    lines += ["]", "}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)  # the file must stay valid JSON
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    text = build()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python spec/generate_vectors.py", file=sys.stderr)
            return 1
        print(f"{OUT.name}: up to date ({len(text)} bytes)")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
