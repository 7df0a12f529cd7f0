"""Benchmarks exact MaxSim scoring: lateint_ref (float32 and bfloat16 storage) against baselines.

Cases (dim 128, L2-normalised float32 token vectors, fixed seeds):

* ``a``:  one query of 32 tokens against 10,000 documents of 180 tokens;
* ``a'``: the same with document lengths drawn uniformly from 50..300;
* ``b``:  16 queries of 32 tokens against 2,000 documents of 180 tokens.

Methods: ``li.maxsim`` on ``Documents`` stored as float32 and as bfloat16, and on the inputs as
given (a packed pair, a list of views of one buffer, a list of separately allocated arrays,
a 3-D array: all read in place); a numpy baseline
(one matmul per 64-document chunk, padded rows masked with -inf before the max); torch's einsum as
PyLate's ``colbert_scores`` does it (zero-padded 64-document chunks, the score tensor multiplied by
the mask); and ``maxsim_cpu.maxsim_scores_variable``. Every method prepares its documents once,
outside the timed region (``Documents``, the padded chunks, the list of arrays), and is timed on
the scoring call alone.

Each (method, threads) pair runs in a fresh subprocess of this script with OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and RAYON_NUM_THREADS set before anything is imported, so
BLAS, OpenMP, torch (which also gets ``torch.set_num_threads``) and rayon pools all honour the
thread count; lateint_ref gets it as ``threads=``. The parent writes the inputs to a temporary
directory once, collects the timings and the scores, checks every method's scores against
lateint_ref's float32 scores, and writes a markdown report (also printed to stdout).

Usage: ``python bench/bench_maxsim.py [--quick] [--output bench/results/maxsim.md]``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peaks
from measure import THREAD_ENV

DIM = 128
Q_LEN = 32
CHUNK = 64
THREADS = (1, 2)
F32_RTOL = 1e-3
BF16_RTOL = 2e-2
BUSY = 0.1  # a measurement whose CPU wait exceeds this share was disturbed by other load
RETRY_BEFORE_S = 150  # disturbed measurements are repeated only if the run is younger than this


@dataclass(frozen=True)
class Case:
    """One benchmark input: ``n_queries`` queries of ``Q_LEN`` tokens against ``n_docs`` documents.

    Document lengths are ``doc_len`` for every document, or uniform integers in ``doc_len_range``
    (inclusive) when it is set.
    """

    name: str
    n_queries: int
    n_docs: int
    doc_len: int = 180
    doc_len_range: tuple[int, int] | None = None
    seed: int = 0

    def lengths_label(self) -> str:
        """Document lengths in words, for the report."""
        if self.doc_len_range is None:
            return str(self.doc_len)
        return f"uniform {self.doc_len_range[0]}..{self.doc_len_range[1]}"


CASES = (
    Case("a", n_queries=1, n_docs=10_000, seed=1),
    Case("a'", n_queries=1, n_docs=10_000, doc_len_range=(50, 300), seed=2),
    Case("b", n_queries=16, n_docs=2_000, seed=3),
)


@dataclass(frozen=True)
class Method:
    """A scoring method and its repeat policy.

    After one warm-up call the method is timed at least ``min_repeats`` and at most
    ``max_repeats`` times, stopping once ``budget_s`` seconds of timed calls have passed.
    """

    name: str
    label: str
    min_repeats: int
    max_repeats: int
    budget_s: float
    module: str | None = None  # a module that must be importable for the method to run
    route: str | None = None  # the bfloat16 route forced by LATEINT_REF_BF16_ROUTE

    def available(self) -> bool:
        """Whether the method's baseline library is installed (its bfloat16 route runs here and
        is not the default one, measured as ``li_bf16`` already)."""
        if self.route is not None:
            from lateint_ref import _native

            if _native.bf16_route() == self.route:
                return False
            return self.route != "dot" or _native.has_bf16_dot()
        return self.module is None or importlib.util.find_spec(self.module) is not None


METHODS = (
    Method("li_f32", "lateint_ref f32", min_repeats=5, max_repeats=20, budget_s=4.0),
    Method("li_bf16", "lateint_ref bf16", min_repeats=5, max_repeats=20, budget_s=4.0),
    # Inputs scored as given, without a prepared Documents (validated and packed by the call).
    Method("li_f32_packed", "lateint_ref f32, packed pair", 3, 10, 2.0),
    Method("li_f32_list", "lateint_ref f32, list of arrays", 3, 10, 2.0),  # views of one buffer
    Method("li_f32_copies", "lateint_ref f32, list of separate arrays", 3, 10, 2.0),
    Method("li_f32_3d", "lateint_ref f32, 3-D array", 3, 10, 2.0),  # equal lengths only
    # The bfloat16 routes this CPU does not take by default, to show why (Bf16Route).
    Method("li_bf16_dot", "lateint_ref bf16, dot route", 3, 10, 2.0, route="dot"),
    Method("li_bf16_widen", "lateint_ref bf16, widen route", 3, 10, 2.0, route="widen"),
    Method("numpy", "numpy matmul", min_repeats=3, max_repeats=7, budget_s=4.0),
    Method("torch", "torch einsum (PyLate)", 1, 3, budget_s=4.0, module="torch"),
    Method("maxsim_cpu", "maxsim-cpu", 3, 7, budget_s=4.0, module="maxsim_cpu"),
)
REFERENCE = "li_f32"


def methods(quick: bool) -> tuple[Method, ...]:
    """The methods with their repeat policy; a quick run times each at most twice."""
    if not quick:
        return METHODS
    return tuple(Method(m.name, m.label, 1, 2, m.budget_s / 4, m.module, m.route) for m in METHODS)


def case_files(data_dir: Path, case: Case) -> dict[str, Path]:
    """Where the parent stores a case's queries, packed document vectors and offsets."""
    stem = {"a": "a", "a'": "a_var", "b": "b"}[case.name]
    return {part: data_dir / f"{stem}_{part}.npy" for part in ("queries", "vectors", "offsets")}


def write_case(data_dir: Path, case: Case, n_docs: int) -> int:
    """Generates a case's inputs with its seed, saves them, and returns the document tokens."""
    import numpy as np

    rng = np.random.default_rng(case.seed)
    if case.doc_len_range is None:
        lengths = np.full(n_docs, case.doc_len, dtype=np.int64)
    else:
        low, high = case.doc_len_range
        lengths = rng.integers(low, high + 1, size=n_docs, dtype=np.int64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    files = case_files(data_dir, case)
    for part, rows in (("queries", case.n_queries * Q_LEN), ("vectors", int(offsets[-1]))):
        vectors = rng.standard_normal((rows, DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if part == "queries":
            vectors = vectors.reshape(case.n_queries, Q_LEN, DIM)
        np.save(files[part], vectors)
        del vectors
    np.save(files["offsets"], offsets)
    return int(offsets[-1])


def cpu_stall_us() -> int | None:
    """System-wide time (µs) some task waited for a CPU (Linux PSI), or None where unavailable."""
    try:
        with open("/proc/pressure/cpu", encoding="utf-8") as f:
            return int(f.readline().rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Worker side: one (method, threads) pair, every case, in a fresh process.
# ---------------------------------------------------------------------------------------------


def prepare(method: str, queries: Any, docs: list[Any], threads: int) -> Any:
    """Builds a zero-argument scoring call returning ``[n_queries, n_docs]`` float32 scores
    (None when the method has no form for these documents).

    Document preparation (storage, padding, masks) happens here, outside the timed region.
    """
    import numpy as np

    if method in ("li_f32_packed", "li_f32_list", "li_f32_copies", "li_f32_3d"):
        import lateint_ref as li

        if method == "li_f32_list":
            return lambda: li.maxsim(queries, docs, threads=threads)
        if method == "li_f32_copies":  # one allocation per document, as an encoder returns them
            copies = [d.copy() for d in docs]
            return lambda: li.maxsim(queries, copies, threads=threads)
        if method == "li_f32_3d":
            if len({len(d) for d in docs}) != 1:
                return None  # documents of different lengths have no 3-D form
            cube = np.stack(docs)
            return lambda: li.maxsim(queries, cube, threads=threads)
        vectors = np.concatenate(docs) if docs else np.zeros((0, DIM), np.float32)
        offsets = np.cumsum([0] + [len(d) for d in docs], dtype=np.int64)
        return lambda: li.maxsim(queries, (vectors, offsets), threads=threads)

    if method.startswith("li_"):
        import lateint_ref as li

        stored = li.Documents(docs, storage="float32" if method == "li_f32" else "bfloat16")
        return lambda: li.maxsim(queries, stored, threads=threads)

    if method == "maxsim_cpu":
        import maxsim_cpu

        return lambda: np.stack([maxsim_cpu.maxsim_scores_variable(q, docs) for q in queries])

    chunks = []
    for start in range(0, len(docs), CHUNK):
        group = docs[start : start + CHUNK]
        width = max(len(d) for d in group)
        padded = np.zeros((len(group), width, DIM), dtype=np.float32)
        valid = np.zeros((len(group), width), dtype=bool)
        for i, d in enumerate(group):
            padded[i, : len(d)] = d
            valid[i, : len(d)] = True
        chunks.append((start, padded, valid))
    n_q = queries.shape[0]

    if method == "numpy":
        flat_q = queries.reshape(-1, DIM)
        # The flat [b * width, dim] views and the padding masks (None when nothing is padded).
        plans = [
            (start, padded.reshape(-1, DIM), padded.shape[:2], None if valid.all() else ~valid)
            for start, padded, valid in chunks
        ]

        def score_numpy() -> Any:
            out = np.empty((n_q, len(docs)), dtype=np.float32)
            for start, flat_d, (b, width), padding in plans:
                sim = (flat_q @ flat_d.T).reshape(n_q * Q_LEN, b, width)
                if padding is not None:
                    sim[:, padding] = -np.inf
                out[:, start : start + b] = sim.max(axis=2).reshape(n_q, Q_LEN, b).sum(axis=1)
            return out

        return score_numpy

    if method == "torch":
        import torch

        torch.set_num_threads(threads)
        q = torch.from_numpy(np.ascontiguousarray(queries))
        plans = [
            (start, torch.from_numpy(padded), torch.from_numpy(valid.astype(np.float32)))
            for start, padded, valid in chunks
        ]

        def score_torch() -> Any:
            out = torch.empty((n_q, len(docs)), dtype=torch.float32)
            with torch.inference_mode():
                for start, d, mask in plans:
                    scores = torch.einsum("ash,bth->abst", q, d)
                    scores = scores * mask.unsqueeze(0).unsqueeze(2)
                    out[:, start : start + d.shape[0]] = scores.max(-1).values.sum(-1)
            return out.numpy()

        return score_torch

    raise ValueError(f"unknown method {method!r}")


def run_worker(
    method_name: str, threads: int, data_dir: Path, cases: list[str], quick: bool
) -> None:
    """Times one method at one thread count on every case; prints one JSON line of timings.

    Each case reports its times and the share of the timed wall time during which some task on the
    machine waited for a CPU (``cpu_wait``): near zero unless something else competes for the cores.
    Scores are saved next to the inputs as ``<case>-<method>-<threads>-scores.npy``.
    """
    import numpy as np

    method = next(m for m in methods(quick) if m.name == method_name)
    results = {}
    for case in (c for c in CASES if c.name in cases):
        files = case_files(data_dir, case)
        queries = np.load(files["queries"])
        vectors = np.load(files["vectors"])
        offsets = np.load(files["offsets"])
        docs = [vectors[offsets[j] : offsets[j + 1]] for j in range(len(offsets) - 1)]
        score = prepare(method_name, queries, docs, threads)
        if score is None:
            continue
        scores = np.asarray(score(), dtype=np.float32)  # warm-up
        times: list[float] = []
        stall0, wall0 = cpu_stall_us(), time.perf_counter()
        while len(times) < method.max_repeats and (
            len(times) < method.min_repeats or sum(times) < method.budget_s
        ):
            t0 = time.perf_counter()
            score()
            times.append(time.perf_counter() - t0)
        stall1, wall1 = cpu_stall_us(), time.perf_counter()
        wait = None
        if stall0 is not None and stall1 is not None:
            wait = (stall1 - stall0) / 1e6 / (wall1 - wall0)
        stem = files["queries"].name.removesuffix("_queries.npy")
        np.save(data_dir / f"{stem}-{method_name}-{threads}-scores.npy", scores)
        results[case.name] = {"times": times, "cpu_wait": wait}
        del score, docs, vectors
    print(json.dumps(results))


# ---------------------------------------------------------------------------------------------
# Parent side: inputs, subprocesses, checks, report.
# ---------------------------------------------------------------------------------------------


def machine_lines() -> list[str]:
    """The machine and library versions, as markdown bullet lines."""
    import numpy as np

    from lateint_ref import _native

    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"- CPU: {model}, {os.cpu_count()} logical cores "
        f"({len(os.sched_getaffinity(0))} usable by this process)",
        f"- lateint_ref {version('lateint-ref')}: available ISAs {_native.available_isas()}, "
        f"bf16 dot {_native.has_bf16_dot()}",
        f"- numpy {np.__version__}, torch {version('torch')}, maxsim-cpu {version('maxsim-cpu')}, "
        f"Python {platform.python_version()}",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def run_subprocess(
    method: Method, threads: int, data_dir: Path, cases: list[str], quick: bool
) -> dict:
    """Runs one worker with the thread-count environment set; returns its timings per case."""
    env = dict(os.environ, **dict.fromkeys(THREAD_ENV, str(threads)))
    if method.route is not None:
        env["LATEINT_REF_BF16_ROUTE"] = method.route
    command = [sys.executable, __file__, "--worker", method.name, "--threads", str(threads)]
    command += ["--data", str(data_dir), "--cases", ",".join(cases)]
    command += ["--quick"] if quick else []
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"exit {done.returncode}: {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_rel_err(scores: Any, reference: Any) -> float:
    """Largest ``|scores - reference| / |reference|`` (inf when the shapes differ)."""
    import numpy as np

    if scores.shape != reference.shape:
        return float("inf")
    denom = np.maximum(np.abs(reference), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(scores.astype(np.float64) - reference) / denom))


def fmt(x: float | None, spec: str) -> str:
    """Formats a number, or a dash when it is missing."""
    return "–" if x is None else format(x, spec)


def table(header: list[str], rows: list[list[str]], left: int = 3) -> list[str]:
    """A markdown table: the first ``left`` columns left-aligned, the others right-aligned."""
    align = ["---" if i < left else "---:" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in (header, align, *rows)]


def main() -> None:
    """Parses arguments; runs either one worker or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, help="markdown report path")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1/10 docs, few repeats")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.threads, args.data, args.cases.split(","), args.quick)
        return

    import numpy as np

    chosen = methods(args.quick)
    scale = 10 if args.quick else 1
    started = time.perf_counter()
    lines = ["# MaxSim benchmark" + (" (quick smoke run)" if args.quick else ""), ""]
    lines += ["## Machine", "", *machine_lines(), ""]
    # This CPU's limits first, on a quiet machine (nothing else of this run is going yet).
    cpu = peaks.measure()
    lines += ["## This CPU's limits (`bench/peaks.py`)", "", *peaks.lines(cpu), ""]
    fma_peak, dot_peak = cpu["fma_f32"]["value"], cpu["dot_bf16"]["value"]

    with tempfile.TemporaryDirectory(prefix="lateint-bench-") as tmp:
        data_dir = Path(tmp)
        info = {}
        for case in CASES:
            n_docs = case.n_docs // scale
            tokens = write_case(data_dir, case, n_docs)
            flops = 2 * Q_LEN * tokens * DIM * case.n_queries
            info[case.name] = {"n_docs": n_docs, "tokens": tokens, "flops": flops}
        print(f"inputs written in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        names = [c.name for c in CASES]
        timings: dict[tuple[str, str, int], list[float]] = {}
        waits: dict[tuple[str, str, int], float | None] = {}
        notes: list[str] = []
        pending = []
        for method in chosen:
            if method.available():
                pending += [(method, threads) for threads in THREADS]
            else:
                why = (
                    f"`{method.module}` is not importable"
                    if method.route is None
                    else "it is this CPU's default route (`lateint_ref bf16`) or cannot run here"
                )
                notes.append(f"- {method.label}: skipped, {why}")
        # A second pass re-measures the (method, threads) pairs that other load disturbed, while
        # time allows, keeping per case the measurement with less CPU wait.
        for attempt in range(2):
            for method, threads in pending:
                t0 = time.perf_counter()
                try:
                    result = run_subprocess(method, threads, data_dir, names, args.quick)
                except RuntimeError as err:
                    notes.append(f"- WARNING: {method.label} at {threads} thread(s) failed: {err}")
                    continue
                for case_name, measured in result.items():
                    key = case_name, method.name, threads
                    old, new = waits.get(key), measured["cpu_wait"]
                    if key not in timings or (new is not None and old is not None and new < old):
                        timings[key], waits[key] = measured["times"], new
                took = time.perf_counter() - t0
                print(f"{method.label}, {threads} thread(s): {took:.1f} s", file=sys.stderr)
            pending = [
                (m, t)
                for m, t in pending
                if any((waits.get((c, m.name, t)) or 0) > BUSY for c in names)
            ]
            if attempt == 0 and pending:
                if time.perf_counter() - started > RETRY_BEFORE_S:
                    break
                notes.append(
                    f"- re-measured {len(pending)} (method, threads) pairs disturbed by other load"
                )

        # Correctness: every method's scores against lateint_ref f32 at 1 thread.
        errors: dict[tuple[str, str, int], float] = {}
        for case in CASES:
            stem = case_files(data_dir, case)["queries"].name.removesuffix("_queries.npy")
            ref_path = data_dir / f"{stem}-{REFERENCE}-1-scores.npy"
            if not ref_path.exists():
                notes.append(f"- WARNING: no reference scores for case {case.name}")
                continue
            reference = np.load(ref_path).astype(np.float64)
            for method in chosen:
                for threads in THREADS:
                    path = data_dir / f"{stem}-{method.name}-{threads}-scores.npy"
                    if not path.exists():
                        continue
                    err = max_rel_err(np.load(path), reference)
                    errors[case.name, method.name, threads] = err
                    rtol = BF16_RTOL if method.name.startswith("li_bf16") else F32_RTOL
                    if not err <= rtol:
                        notes.append(
                            f"- WARNING: case {case.name}, {method.label}, {threads} thread(s): "
                            f"max relative error {err:.2e} exceeds {rtol:.0e}"
                        )

    lines += ["## Cases", ""]
    lines += table(
        ["case", "queries × tokens", "docs", "doc tokens", "total doc tokens", "GFLOP per call"],
        [
            [
                case.name,
                f"{case.n_queries} × {Q_LEN}",
                str(info[case.name]["n_docs"]),
                case.lengths_label(),
                str(info[case.name]["tokens"]),
                f"{info[case.name]['flops'] / 1e9:.2f}",
            ]
            for case in CASES
        ],
    )
    lines += [
        "",
        f"dim {DIM}; FLOPs = 2 · q_len · total doc tokens · dim · queries. Best and median of the "
        "timed repeats after one warm-up; GFLOP/s and docs/s (query–document pairs per second) "
        "from the best time; `× numpy` and `× torch` are speed-ups over those baselines (same case "
        "and threads); `rel err` is the largest relative difference from lateint_ref f32 scores "
        f"(limits {F32_RTOL:.0e}, bf16 {BF16_RTOL:.0e}); `cpu wait` is the share of the timed "
        "wall time in which some task on the machine waited for a CPU (Linux PSI), a sign of "
        "other load when it is well above zero.",
        "",
        "## Results",
        "",
    ]

    def best(case: str, method: str, threads: int) -> float | None:
        times = timings.get((case, method, threads))
        return min(times) if times else None

    def gflops(case: str, method: str, threads: int) -> float | None:
        t = best(case, method, threads)
        return None if t is None else info[case]["flops"] / t / 1e9

    from lateint_ref import _native

    def route_of(method: str) -> str | None:
        """The bfloat16 route a method ran with, None for float32 methods."""
        if method == "li_bf16":
            return _native.bf16_route()
        return {"li_bf16_dot": "dot", "li_bf16_widen": "widen"}.get(method)

    def peak_share(method: str, threads: int, g: float | None) -> float | None:
        """GFLOP/s over the limit of the instructions the method runs on (fp32 FMA, or the
        bfloat16 dot for the dot route), times the threads."""
        limit = dot_peak if route_of(method) == "dot" else fma_peak
        return None if g is None or not limit else g / (limit * threads)

    rows = []
    for case in CASES:
        for threads in THREADS:
            for method in chosen:
                times = timings.get((case.name, method.name, threads))
                if not times:
                    continue
                t = min(times)
                pairs = info[case.name]["n_docs"] * case.n_queries
                base_np, base_torch = (
                    best(case.name, "numpy", threads),
                    best(case.name, "torch", threads),
                )
                rows.append(
                    [
                        case.name,
                        method.label,
                        str(threads),
                        str(len(times)),
                        f"{t * 1e3:.1f}",
                        f"{statistics.median(times) * 1e3:.1f}",
                        f"{info[case.name]['flops'] / t / 1e9:.1f}",
                        fmt(
                            peak_share(method.name, threads, info[case.name]["flops"] / t / 1e9),
                            ".0%",
                        ),
                        f"{pairs / t:,.0f}",
                        fmt(base_np and base_np / t, ".2f"),
                        fmt(base_torch and base_torch / t, ".2f"),
                        fmt(errors.get((case.name, method.name, threads)), ".1e"),
                        fmt(waits.get((case.name, method.name, threads)), ".0%"),
                    ]
                )
    header = ["case", "method", "threads", "reps", "best ms", "median ms", "GFLOP/s", "of peak"]
    header += ["docs/s"]
    lines += table([*header, "× numpy", "× torch", "rel err", "cpu wait"], rows)
    busy = [w for w in waits.values() if w is not None and w > BUSY]
    if busy:
        notes.append(
            f"- WARNING: other load competed for the CPUs during {len(busy)} of {len(waits)} "
            f"measurements (`cpu wait` above {BUSY:.0%}, up to {max(busy):.0%}); their times, "
            "and the checks built on them, are pessimistic. Rerun on a quiet machine."
        )

    checks: list[tuple[str, float | None, str, bool | None]] = []

    def ratio(top: float | None, bottom: float | None) -> float | None:
        return None if top is None or bottom is None else top / bottom

    def check(label: str, value: float | None, minimum: float) -> None:
        """A target ``value >= minimum``; no verdict when the value is missing."""
        ok = None if value is None else value >= minimum
        checks.append((label, value, f">= {minimum:g}", ok))

    g = {(c.name, t): gflops(c.name, "li_f32", t) for c in CASES for t in THREADS}
    gb = {(c.name, t): gflops(c.name, "li_bf16", t) for c in CASES for t in THREADS}
    for t in THREADS:
        share = peak_share("li_f32", t, g["a", t])
        check(f"(a) lateint f32, {t} thread(s): share of the fp32 FMA peak", share, 0.85)
    for t in THREADS:
        check(
            f"(a') vs (a), lateint f32, {t} thread(s): GFLOP/s ratio",
            ratio(g["a'", t], g["a", t]),
            0.9,
        )
    for t in THREADS:
        share = peak_share("li_f32", t, g["b", t])
        check(f"(b) lateint f32, {t} thread(s): share of the fp32 FMA peak", share, 0.90)
    for case in CASES:
        two_vs_one = ratio(g[case.name, 2], g[case.name, 1])
        check(f"({case.name}) lateint f32: 2 threads / 1 thread", two_vs_one, 1.8)
    for case in CASES:
        bf16_vs_f32 = ratio(gb[case.name, 1], g[case.name, 1])
        check(f"({case.name}) lateint bf16 / f32, 1 thread", bf16_vs_f32, 1.8)
    for name in ("li_f32_packed", "li_f32_list", "li_f32_copies", "li_f32_3d"):
        given = ratio(gflops("a", name, 1), g["a", 1])
        form = name.removeprefix("li_f32_")
        check(f"(a) lateint f32 from a {form} / from Documents, 1 thread", given, 0.9)
    if fma_peak and dot_peak and dot_peak < 1.8 * fma_peak:
        notes.append(
            f"- bfloat16 / f32 cannot reach 1.8 on this CPU: its `vdpbf16ps` limit is "
            f"{dot_peak:.0f} GFLOP/s, {dot_peak / fma_peak:.2f}x the fp32 FMA limit "
            f"({fma_peak:.0f}); bfloat16 storage takes the `{_native.bf16_route()}` route here "
            "and float32 stays the default storage."
        )
    lines += ["", "## Checks", ""]
    lines += table(
        ["check", "value", "target", "result"],
        [
            [label, fmt(value, ".2f"), target, {True: "PASS", False: "MISS", None: "n/a"}[ok]]
            for label, value, target, ok in checks
        ],
        left=1,
    )
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", f"Total run time {time.perf_counter() - started:.0f} s.", ""]

    report = "\n".join(lines)
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
