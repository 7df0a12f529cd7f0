"""One training step, timed, of lateint-ref or of PyLate 1.6.0: where a step's time goes.

The same texts as bench/bench_training.py (SciFact train triplets, 1 positive + 3 negatives),
MiniLM + 128-d projection in train mode (dropout 0.1), Contrastive (temperature 1.0): forward,
loss and backward, no optimizer. One untimed step, then ``--steps`` timed ones, each printed with
its minor page faults and system CPU time; ``--profile`` prints torch's operator table of the last
one; ``--keep-freed-memory`` makes glibc keep freed memory (``mallopt``) instead of returning it
to the system, to see what the page faults of each step's allocations cost.

    .venv/bin/python bench/training_step.py --system lateint-ref [--queries 4] [--threads 1]
    ~/peers/bin/python bench/training_step.py --system pylate     # in the peers venv
    PYTHONPATH=. ~/peers/bin/python bench/training_step.py --system lateint-ref  # PyLate's torch
"""

from __future__ import annotations

import argparse
import ctypes
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _keep_freed_memory() -> None:
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 62)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=("lateint-ref", "pylate"), required=True)
    parser.add_argument("--queries", type=int, default=4, help="queries per step")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep-freed-memory", action="store_true")
    args = parser.parse_args()
    if args.keep_freed_memory:
        _keep_freed_memory()
    import torch
    from bench_training import NEGATIVES, minilm, triplets

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = triplets(args.queries * (args.steps + 1))
    if args.system == "lateint-ref":
        from lateint_ref import training

        model = training.ColBERT.from_backbone(minilm(), embedding_size=128, seed=0).train()
        loss = training.Contrastive(temperature=1.0)

        def value(rs: list[dict]) -> torch.Tensor:
            documents = [[r["positive"], *r["negatives"]] for r in rs]
            return loss(model, queries=[r["query"] for r in rs], documents=documents)
    else:
        from pylate import losses, models

        model = models.ColBERT(minilm(), device="cpu")
        model.train()
        pylate_loss = losses.Contrastive(model=model, temperature=1.0)

        def value(rs: list[dict]) -> torch.Tensor:
            q = model.tokenize([r["query"] for r in rs], is_query=True)
            columns = [[r["positive"] for r in rs]] + [
                [r["negatives"][j] for r in rs] for j in range(NEGATIVES)
            ]
            ds = [model.tokenize(c, is_query=False) for c in columns]
            return pylate_loss([q, *ds], None)

    def step(rs: list[dict]) -> None:
        value(rs).backward()
        model.zero_grad()

    step(rows[: args.queries])
    for i in range(1, args.steps + 1):
        part = rows[i * args.queries : (i + 1) * args.queries]
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        if args.profile and i == args.steps:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                step(part)
        else:
            step(part)
        seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        print(
            f"{args.system} (torch {torch.__version__}, {args.threads} threads): step {i} "
            f"{seconds:.2f} s, {after.ru_minflt - before.ru_minflt} minor faults, system "
            f"{after.ru_stime - before.ru_stime:.2f} s, "
            f"user {after.ru_utime - before.ru_utime:.2f} s"
        )
    if args.profile:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
