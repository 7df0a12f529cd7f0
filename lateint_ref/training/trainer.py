"""``fit``: the training loop (spec/trainer.md R-FIT-1 to R-FIT-14).

AdamW, a linear warmup then linear decay, gradient clipping, the seeded batch order of
``data.batches``, optional bfloat16 autocast, checkpoints every N steps from which a killed run
resumes bit for bit, nDCG@10 on a dev set after each epoch (logged as JSON lines and to
TensorBoard, the best model kept) and a model card in every model folder written. Launched in
several processes with torch.distributed initialised, each process takes its shard of every
batch and the gradients are summed over the processes (``parallel``)."""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lateint_ref import _checks
from lateint_ref.errors import InputError
from lateint_ref.progress import Progress
from lateint_ref.training import board as tboard
from lateint_ref.training import checkpoint as ckpt
from lateint_ref.training import dev as devset
from lateint_ref.training.data import DistillationSet, PairSet, TripletSet, batches
from lateint_ref.training.dev import Dev
from lateint_ref.training.losses import CachedContrastive, Contrastive, Distillation
from lateint_ref.training.model import ColBERT
from lateint_ref.training.parallel import Group

PRECISIONS = ("float32", "bfloat16")
NDCG = f"ndcg@{devset.K}"
LOG_NAME = "log.jsonl"

__all__ = ["Dev", "FitResult", "fit"]


@dataclass(frozen=True)
class FitResult:
    """What ``fit`` did: ``steps`` optimizer steps in all (those of a resumed run included),
    ``losses`` the loss of every step, ``history`` the per-epoch log records (R-FIT-8), ``best``
    the record of the best epoch by dev nDCG@10 (None without dev), the folders written (None
    without ``output_dir``) and the checkpoint resumed from (None for a fresh run). The same on
    every process of a run in several (R-FIT-13)."""

    steps: int
    epochs: int
    losses: tuple[float, ...]
    history: tuple[dict[str, Any], ...]
    best: dict[str, Any] | None
    final_dir: Path | None
    best_dir: Path | None
    resumed_from: Path | None


def fit(
    model: ColBERT,
    loss: Contrastive | CachedContrastive | Distillation,
    data: TripletSet | DistillationSet | PairSet,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 5e-5,
    warmup: int | float = 0.0,
    weight_decay: float = 0.01,
    max_grad_norm: float | None = 1.0,
    seed: int = 0,
    drop_last: bool = False,
    precision: str = "float32",
    output_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    dev: Dev | str | os.PathLike[str] | None = None,
    dev_split: str = "test",
    log_file: str | os.PathLike[str] | None = None,
    tensorboard: bool | None = None,
    progress: bool | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> FitResult:
    """Trains ``model`` in place with ``loss`` on ``data`` (spec/trainer.md).

    Args:
        model: a ``training.ColBERT``; its parameters with ``requires_grad`` are trained.
        loss: ``Contrastive`` or ``CachedContrastive`` with a ``TripletSet`` (or a ``PairSet``:
            in-batch negatives only), ``Distillation`` with a ``DistillationSet`` (R-FIT-1).
        epochs, batch_size: passes over ``data`` and queries per step (integers >= 1); the
            order is ``data.batches(len(data), batch_size, seed, epoch, drop_last=...)``. In
            several processes ``batch_size`` is the global batch, split among them (R-FIT-12).
        lr: AdamW's peak learning rate; ``weight_decay`` its decoupled weight decay (>= 0).
        warmup: an ``int`` is a number of steps, a ``float`` in ``[0, 1]`` a fraction of all
            steps (rounded up); the rate rises linearly from 0 over the warmup, then falls
            linearly to 0 at the last step (R-FIT-2).
        max_grad_norm: the gradients' global L2 norm is clipped to it (None: no clipping).
        seed: seeds the batch order and torch's generator before every step (R-FIT-3).
        precision: ``"float32"`` or ``"bfloat16"`` (R-FIT-10: autocast of the forward and backward;
            the weights and optimizer stay float32).
        output_dir: where checkpoints, ``log.jsonl``, ``final/``, ``best/`` and ``runs/`` go
            (one folder shared by every process of a run in several, R-FIT-13).
        checkpoint_every: a checkpoint every that many steps (needs ``output_dir``).
        resume: continue from the newest complete checkpoint of ``output_dir`` (R-FIT-6).
        dev: ``(corpus, queries, qrels)`` (corpus: ``{id: text}`` or ``(id, text)`` pairs) or a
            BEIR folder read with ``dev_split``: nDCG@10 by exact MaxSim after each epoch.
        log_file: JSON lines, one per epoch (default ``output_dir/log.jsonl``).
        tensorboard: scalars in ``output_dir/runs/`` (R-FIT-14); None: when the ``tensorboard``
            package is installed and there is an ``output_dir``; True requires both.
        progress: the progress line on stderr (R-FIT-11); None shows it when stderr is a terminal.
        on_checkpoint: called with each checkpoint folder once it is complete (on process 0).

    Every argument, the data and the dev set are checked before the first step (R-FIT-1)."""
    if not isinstance(model, ColBERT):
        raise InputError(f"R-FIT-1: model must be a training.ColBERT, got {type(model).__name__}")
    examples = _examples(loss, data)
    epochs = _checks.positive(epochs, "epochs", "R-FIT-1")
    batch_size = _checks.positive(batch_size, "batch_size", "R-FIT-1")
    lr = _checks.positive_real(lr, "lr", "R-FIT-1")
    weight_decay = _non_negative(weight_decay, "weight_decay")
    clip = None
    if max_grad_norm is not None:
        clip = _checks.positive_real(max_grad_norm, "max_grad_norm", "R-FIT-1")
    seed = _checks.integer(seed, "seed", "R-FIT-1", 0, 2**63 - 1)
    drop_last = _checks.flag(drop_last, "drop_last", "R-FIT-1")
    precision = _checks.choice(precision, "precision", "R-FIT-1", PRECISIONS)
    resume = _checks.flag(resume, "resume", "R-FIT-1")
    every = _checks.optional_integer(checkpoint_every, "checkpoint_every", "R-FIT-1", 1)
    out = None if output_dir is None else Path(output_dir)
    if every is not None and out is None:
        raise InputError("R-FIT-1: checkpoint_every needs an output_dir")
    log_path = Path(log_file) if log_file is not None else (out / LOG_NAME if out else None)
    writer_class = tboard.wanted(tensorboard, out)
    per_epoch = len(batches(len(examples), batch_size, seed, 0, drop_last=drop_last))
    if per_epoch == 0:
        raise InputError(
            f"R-FIT-1: drop_last with batch_size {batch_size} > {len(examples)} examples "
            "leaves no batch"
        )
    total = per_epoch * epochs
    warmup_steps = _warmup(warmup, total)
    dev_set = devset.read(dev, dev_split)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError("R-FIT-1: the model has no parameter with requires_grad")
    group = Group.current(model.device)
    group.check_batches(len(examples), batch_size, drop_last)  # R-FIT-12

    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _schedule(s, warmup_steps, total)
    )
    loss_info = _loss_info(loss)
    settings = {
        "loss": loss_info,
        "examples": len(examples),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "warmup_steps": warmup_steps,
        "weight_decay": weight_decay,
        "max_grad_norm": clip,
        "seed": seed,
        "drop_last": drop_last,
        "precision": precision,
        "trainable_tensors": len(params),
        "world_size": group.world,
        "dropout": dict(model.dropout_rates),  # R-TRAIN-11: the model's, a resume must match
    }
    group.check_same(settings, examples)  # R-FIT-12: the first collective
    state: dict[str, Any] = {
        "step": 0, "losses": [], "history": [], "best": None, "seconds": 0.0,
        "settings": settings,
    }  # fmt: skip
    resumed_from = None
    if out is not None:  # R-FIT-6, R-FIT-13: process 0 cleans up, then every one looks
        group.on_first(partial(ckpt.remove_temporaries, out))
        found = ckpt.latest_checkpoint(out) if resume else None
        seen = group.gather_integer(-1 if found is None else ckpt.step_of(found))
        if len(set(seen)) != 1:
            raise InputError(
                f"R-FIT-13: the processes find other checkpoints in {out} (steps {seen}, -1: "
                "none): output_dir must be one folder that every process sees"
            )
        if found is not None:
            state = _resumed(ckpt.load_checkpoint(found, model, optimizer, scheduler), settings)
            resumed_from = found
    group.broadcast_model(model)  # R-FIT-12: every process starts from process 0's weights
    if log_path is not None:  # R-FIT-8: the log holds the records of the state resumed from
        group.on_first(partial(_write_log, log_path, state["history"]))
    board = None
    if writer_class is not None and out is not None and group.first:  # R-FIT-14
        board = tboard.Board(writer_class, out, int(state["step"]) + 1 if resumed_from else 0)

    card_info = {
        "base_model": str(model.folder.path),
        "loss": loss_info,
        "data": {
            "file": str(getattr(data, "path", "")),
            "kind": type(data).__name__,
            "examples": len(examples),
        },
        "hyperparameters": {k: v for k, v in settings.items() if k not in ("loss", "examples")},
    }
    autocast = (
        (lambda: torch.autocast(model.device.type, dtype=torch.bfloat16))
        if precision == "bfloat16"
        else contextlib.nullcontext
    )
    gathers = bool(getattr(loss, "gather_across_devices", False))
    best_dir = out / "best" if out is not None and dev_set is not None else None
    start = time.perf_counter() - float(state["seconds"])

    def measure() -> list[float]:
        """Process 0's time since the start and, with a dev set, its nDCG@10 (R-FIT-4)."""
        seconds = time.perf_counter() - start
        if dev_set is None:
            return [seconds]
        return [seconds, devset.evaluate(model, dev_set, batch_size)]

    bar = Progress("training", progress if group.first else False)  # R-FIT-13
    try:
        if dev_set is not None and state["step"] == 0 and not state["history"]:
            seconds, score = group.on_first(measure, 2)
            record = {"epoch": 0, "step": 0, "loss": None, "lr": scheduler.get_last_lr()[0]}
            record.update({"seconds": seconds, NDCG: score})
            _record(group, log_path, board, state, record)
        order: list[list[int]] = []
        order_epoch = -1
        while state["step"] < total:
            step = int(state["step"])
            epoch, position = divmod(step, per_epoch)
            if epoch != order_epoch:
                order = batches(len(examples), batch_size, seed, epoch, drop_last=drop_last)
                order_epoch = epoch
            batch = order[position]
            mine = group.shard(batch)  # R-FIT-12
            torch.manual_seed(_step_seed(seed, step, group.rank))  # R-FIT-3
            model.train()
            optimizer.zero_grad(set_to_none=True)
            rate = float(scheduler.get_last_lr()[0])
            with autocast():
                value = _call(loss, [examples[i] for i in mine], model)
                if group.world > 1:  # R-FIT-12: this process's share of the step's loss
                    value = value * group.weight(gathers, len(mine), len(batch))
                torch.autograd.backward(value)
            step_loss = group.reduce(params, value.detach())  # R-FIT-12: summed over processes
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            scheduler.step()
            state["losses"].append(step_loss)
            state["step"] = step = step + 1
            elapsed = time.perf_counter() - start
            state["seconds"] = elapsed
            if board is not None:
                board.step(step, step_loss, rate)
            recent = state["losses"][-50:]
            bar(
                f"epoch {epoch + 1}/{epochs} loss {sum(recent) / len(recent):.4f} "
                f"{step / max(elapsed, 1e-9):.2f} steps/s",
                step,
                total,
            )
            if position == per_epoch - 1:  # R-FIT-8: the end of an epoch
                got = group.on_first(measure, 1 if dev_set is None else 2)
                losses = state["losses"][-per_epoch:]
                record = {
                    "epoch": epoch + 1,
                    "step": step,
                    "loss": math.fsum(losses) / len(losses),
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": got[0],
                }
                if dev_set is not None:
                    record[NDCG] = score = got[1]
                    best = state["best"]
                    if best is None or score > best[NDCG]:  # R-FIT-7
                        state["best"] = record
                        if best_dir is not None:
                            group.on_first(
                                partial(
                                    ckpt.save_model, best_dir, model, card_info, state, epoch + 1,
                                    record,
                                )
                            )  # fmt: skip
                _record(group, log_path, board, state, record)
            if every is not None and out is not None and step % every == 0:
                path = out / f"checkpoint-{step}"
                group.on_first(  # R-FIT-5
                    partial(ckpt.save_checkpoint, path, model, optimizer, scheduler, state)
                )
                if on_checkpoint is not None and group.first:
                    on_checkpoint(path)
        model.eval()
        final_dir = None
        if out is not None:  # every process returns once process 0 wrote final/ (R-FIT-13)
            final_dir = out / "final"
            group.on_first(
                partial(ckpt.save_model, final_dir, model, card_info, state, epochs, None)
            )
    finally:
        bar.close()
        if board is not None:
            board.close()
    return FitResult(
        steps=int(state["step"]),
        epochs=epochs,
        losses=tuple(state["losses"]),
        history=tuple(state["history"]),
        best=state["best"],
        final_dir=final_dir,
        best_dir=best_dir if best_dir is not None and state["best"] is not None else None,
        resumed_from=resumed_from,
    )


# ----------------------------------------------------------------------------- checks


def _examples(loss: Any, data: Any) -> list[Any]:
    """R-FIT-1: the loss and the data must be of matching kinds, the data non-empty."""
    if isinstance(loss, (Contrastive, CachedContrastive)):
        if not isinstance(data, (TripletSet, PairSet)):
            raise InputError(
                f"R-FIT-1: {type(loss).__name__} trains on a TripletSet (read_triplets) or a "
                f"PairSet (read_beir_pairs), got {type(data).__name__}"
            )
    elif isinstance(loss, Distillation):
        if not isinstance(data, DistillationSet):
            raise InputError(
                "R-FIT-1: Distillation trains on a DistillationSet (read_distillation), got "
                f"{type(data).__name__}"
            )
    else:
        raise InputError(
            "R-FIT-1: loss must be a training.Contrastive, CachedContrastive or Distillation, "
            f"got {type(loss).__name__}"
        )
    if len(data) == 0:
        raise InputError(f"R-FIT-1: {data!r} holds no example")
    return list(data)


def _non_negative(x: Any, name: str) -> float:
    if (
        isinstance(x, bool)
        or not isinstance(x, numbers.Real)
        or not math.isfinite(float(x))
        or float(x) < 0
    ):
        raise InputError(f"R-FIT-1: {name} must be a finite number >= 0, got {x!r}")
    return float(x)


def _warmup(warmup: Any, total: int) -> int:
    """R-FIT-2: an integer >= 0 is steps (at most ``total``), a float in [0, 1] a fraction."""
    if _checks.is_int(warmup):
        if int(warmup) < 0:
            raise InputError(f"R-FIT-2: warmup steps must be >= 0, got {warmup!r}")
        return min(int(warmup), total)
    if isinstance(warmup, float) and 0.0 <= warmup <= 1.0:
        return math.ceil(warmup * total)
    raise InputError(
        f"R-FIT-2: warmup must be a number of steps (int >= 0) or a fraction (float in [0, 1]), "
        f"got {warmup!r}"
    )


def _schedule(step: int, warmup: int, total: int) -> float:
    """R-FIT-2: the learning-rate factor of step ``step`` (0-based), as transformers'
    ``get_linear_schedule_with_warmup``."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def _step_seed(seed: int, step: int, rank: int = 0) -> int:
    """R-FIT-3: the torch seed of one step, a function of ``(seed, step)`` only; R-FIT-12: on
    process ``rank`` of several, of ``(seed, step, rank)``, process 0's being the former."""
    entropy = [seed, step] if rank == 0 else [seed, step, rank]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


def _loss_info(loss: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"name": type(loss).__name__}
    for key, value in sorted(vars(loss).items()):
        if not key.startswith("_") and isinstance(value, (str, int, float, bool)):
            info[key] = value
    return info


def _resumed(state: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """R-FIT-6: a checkpoint resumes only the run of the same settings (R-FIT-13: the number
    of processes among them; a checkpoint that does not record it was written by one)."""
    saved = {"world_size": 1, **state.get("settings", {})}
    differ = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if differ:
        diffs = ", ".join(f"{k} {saved.get(k)!r} != {settings.get(k)!r}" for k in differ)
        raise InputError(
            f"R-FIT-6: the checkpoint was written with other settings ({diffs}); pass "
            "resume=False or another output_dir"
        )
    return state


# ----------------------------------------------------------------------------- steps


def _call(loss: Any, batch: list[Any], model: ColBERT) -> torch.Tensor:
    queries = [e.query for e in batch]
    if isinstance(loss, Distillation):
        value = loss(
            model,
            queries=queries,
            documents=[list(e.documents) for e in batch],
            teacher_scores=[list(e.scores) for e in batch],
        )
    elif batch and hasattr(batch[0], "positive"):  # a PairSet
        value = loss(model, queries=queries, documents=[[e.positive] for e in batch])
    else:
        value = loss(model, queries=queries, documents=[list(e.documents) for e in batch])
    result: torch.Tensor = value
    return result


# ----------------------------------------------------------------------------- files


def _write_log(path: Path, records: list[dict[str, Any]]) -> None:
    from lateint_ref import _files

    path.parent.mkdir(parents=True, exist_ok=True)
    _files.write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))


def _record(
    group: Group,
    path: Path | None,
    board: tboard.Board | None,
    state: dict[str, Any],
    record: dict[str, Any],
) -> None:
    """R-FIT-8: an epoch record in the history of every process; process 0 appends it to the
    log (one JSON object per line, one write, fsynced) and to TensorBoard (R-FIT-14)."""
    state["history"].append(record)

    def write() -> None:
        if path is not None:
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())
        if board is not None:
            board.epoch(record)

    group.on_first(write)
