"""``lateint train``: fine-tune a model with ``training.fit`` from flags or a TOML file
(spec/cli.md R-CLI-14, spec/trainer.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from lateint_ref.cli.shared import EXIT_OK, print_json

# The options a TOML file may set (its keys as the flags', "-" or "_"), and their kinds.
TEXT = ("model", "triplets", "distillation", "queries", "corpus", "output", "dev", "dev_split")
CHOICES = {
    "loss": ("contrastive", "cached-contrastive", "distillation"),
    "precision": ("float32", "bfloat16"),
    "trainable": ("all", "projection"),
}
NUMBERS: tuple[str, ...] = ("embedding_size", "mini_batch_size", "temperature", "epochs")
NUMBERS += ("batch_size", "lr", "warmup", "weight_decay", "max_grad_norm", "seed")
NUMBERS += ("checkpoint_every", "dropout")
FIT_KEYS: tuple[str, ...] = ("epochs", "batch_size", "lr", "warmup", "weight_decay")
FIT_KEYS += ("max_grad_norm", "seed", "precision", "checkpoint_every", "dev_split")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, completed by ``--config`` (R-CLI-14): flags win."""
    given = {k: getattr(args, k) for k in (*TEXT, *CHOICES, *NUMBERS)}
    merged = {k: v for k, v in given.items() if v is not None}
    if args.config is None:
        return merged
    import tomllib

    try:
        with Path(args.config).open("rb") as f:
            table = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        args.parser.error(f"R-CLI-14: {args.config}: not TOML: {exc}")
    for raw, value in table.items():
        key = raw.replace("-", "_")
        if key in TEXT:
            ok = isinstance(value, str)
        elif key in CHOICES:
            ok = value in CHOICES[key]
        elif key in NUMBERS:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            args.parser.error(f"R-CLI-14: {args.config}: unknown key {raw!r}")
        if not ok:
            args.parser.error(f"R-CLI-14: {args.config}: bad value for {raw!r}: {value!r}")
        merged.setdefault(key, value)
    return merged


def run(args: argparse.Namespace) -> int:
    o = options(args)
    for need in ("model", "output"):
        if need not in o:
            args.parser.error(f"R-CLI-14: --{need} is required (as a flag or in --config)")
    if ("triplets" in o) == ("distillation" in o):
        args.parser.error("R-CLI-14: give exactly one of --triplets and --distillation")
    if "distillation" in o and not ("queries" in o and "corpus" in o):
        args.parser.error("R-CLI-14: --distillation needs --queries and --corpus")
    loss_name = o.get("loss", "distillation" if "distillation" in o else "contrastive")

    from lateint_ref import training
    from lateint_ref.training import data as tdata
    from lateint_ref.training.parallel import launched
    from lateint_ref.training.trainer import fit

    start = time.perf_counter()
    examples: Any  # R-CLI-14: the data is read and checked before the model is loaded
    if "triplets" in o:
        examples = tdata.read_triplets(o["triplets"])
    else:
        examples = tdata.read_distillation(
            o["distillation"], queries=o["queries"], corpus=o["corpus"]
        )
    loss: Any
    if loss_name == "distillation":
        loss = training.Distillation()
    elif loss_name == "cached-contrastive":  # R-CLI-14: in-batch negatives of every process
        loss = training.CachedContrastive(
            mini_batch_size=o.get("mini_batch_size", 32),
            temperature=o.get("temperature", 1.0),
            gather_across_devices=True,
        )
    else:
        loss = training.Contrastive(
            temperature=o.get("temperature", 1.0), gather_across_devices=True
        )
    dropout = o.get("dropout")  # None: the backbone config's rates (R-TRAIN-11)
    if "embedding_size" in o:
        model = training.ColBERT.from_backbone(
            o["model"], embedding_size=o["embedding_size"], seed=o.get("seed", 0), dropout=dropout
        )
    else:
        model = training.ColBERT.from_pretrained(o["model"], dropout=dropout)
    if o.get("trainable") == "projection":  # R-CLI-14: the backbone frozen
        model.backbone.requires_grad_(False)
    with launched(model.device) as group:  # R-CLI-14: torchrun's processes
        result = fit(
            model,
            loss,
            examples,
            output_dir=o["output"],
            dev=o.get("dev"),
            progress=sys.stderr.isatty(),  # R-CLI-5
            **{k: o[k] for k in FIT_KEYS if k in o},
        )
    if not group.first:  # R-CLI-14: process 0 alone prints the summary
        return EXIT_OK
    seconds = time.perf_counter() - start
    epochs = [r for r in result.history if r["epoch"] >= 1]
    summary = {
        "output": o["output"],
        "final": str(result.final_dir),
        "best": None if result.best_dir is None else str(result.best_dir),
        "steps": result.steps,
        "epochs": result.epochs,
        "loss": epochs[-1]["loss"] if epochs else None,
        "ndcg@10": None if result.best is None else result.best["ndcg@10"],
        "resumed_from": None if result.resumed_from is None else str(result.resumed_from),
        "seconds": seconds,
    }
    if args.json:
        print_json(summary)
        return EXIT_OK
    resumed = f" (resumed from {result.resumed_from})" if result.resumed_from else ""
    print(
        f"trained {result.steps:,} steps over {result.epochs} epochs{resumed} in {seconds:.1f} s; "
        f"final model in {result.final_dir}"
    )
    if summary["loss"] is not None:
        print(f"last epoch loss {summary['loss']:.4f}")
    if result.best is not None:
        print(f"best dev nDCG@10 {result.best['ndcg@10']:.4f} (epoch {result.best['epoch']}) in "
              f"{result.best_dir}")  # fmt: skip
    return EXIT_OK
