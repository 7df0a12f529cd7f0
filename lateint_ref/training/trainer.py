"""``fit``: the training loop (spec/trainer.md R-FIT-1 to R-FIT-10).

AdamW, a linear warmup then linear decay, gradient clipping, the seeded batch order of
``data.batches``, optional bfloat16 autocast, checkpoints every N steps from which a killed run
resumes bit for bit, nDCG@10 on a dev set after each epoch (logged as JSON lines, the best model
kept) and a model card in every model folder written."""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lateint_ref import _checks
from lateint_ref.errors import InputError
from lateint_ref.progress import Progress
from lateint_ref.training import checkpoint as ckpt
from lateint_ref.training.card import model_card
from lateint_ref.training.data import DistillationSet, PairSet, TripletSet, batches
from lateint_ref.training.losses import CachedContrastive, Contrastive, Distillation
from lateint_ref.training.model import ColBERT

PRECISIONS = ("float32", "bfloat16")
DEV_K = 10
LOG_NAME = "log.jsonl"

Dev = tuple[Any, Mapping[str, str], Mapping[str, Mapping[str, int]]]


@dataclass(frozen=True)
class FitResult:
    """What ``fit`` did: ``steps`` optimizer steps in all (those of a resumed run included),
    ``losses`` the loss of every step, ``history`` the per-epoch log records (R-FIT-8), ``best``
    the record of the best epoch by dev nDCG@10 (None without dev), the folders written (None
    without ``output_dir``) and the checkpoint resumed from (None for a fresh run)."""

    steps: int
    epochs: int
    losses: tuple[float, ...]
    history: tuple[dict[str, Any], ...]
    best: dict[str, Any] | None
    final_dir: Path | None
    best_dir: Path | None
    resumed_from: Path | None


@dataclass(frozen=True)
class _DevSet:
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]


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
    progress: bool | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> FitResult:
    """Trains ``model`` in place with ``loss`` on ``data`` (spec/trainer.md).

    Args:
        model: a ``training.ColBERT``; its parameters with ``requires_grad`` are trained.
        loss: ``Contrastive`` or ``CachedContrastive`` with a ``TripletSet`` (or a ``PairSet``:
            in-batch negatives only), ``Distillation`` with a ``DistillationSet`` (R-FIT-1).
        epochs, batch_size: passes over ``data`` and queries per step (integers >= 1); the
            order is ``data.batches(len(data), batch_size, seed, epoch, drop_last=...)``.
        lr: AdamW's peak learning rate; ``weight_decay`` its decoupled weight decay (>= 0).
        warmup: an ``int`` is a number of steps, a ``float`` in ``[0, 1]`` a fraction of all
            steps (rounded up); the rate rises linearly from 0 over the warmup, then falls
            linearly to 0 at the last step (R-FIT-2).
        max_grad_norm: the gradients' global L2 norm is clipped to it (None: no clipping).
        seed: seeds the batch order and torch's generator before every step (R-FIT-3).
        precision: ``"float32"`` or ``"bfloat16"`` (R-FIT-10: autocast of the forward and backward;
            the weights and optimizer stay float32).
        output_dir: where checkpoints, ``log.jsonl``, ``final/`` and ``best/`` go.
        checkpoint_every: a checkpoint every that many steps (needs ``output_dir``).
        resume: continue from the newest complete checkpoint of ``output_dir`` (R-FIT-6).
        dev: ``(corpus, queries, qrels)`` (corpus: ``{id: text}`` or ``(id, text)`` pairs) or a
            BEIR folder read with ``dev_split``: nDCG@10 by exact MaxSim after each epoch.
        log_file: JSON lines, one per epoch (default ``output_dir/log.jsonl``).
        progress: the progress line on stderr (R-FIT-11); None shows it when stderr is a terminal.
        on_checkpoint: called with each checkpoint folder once it is complete.

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
    per_epoch = len(batches(len(examples), batch_size, seed, 0, drop_last=drop_last))
    if per_epoch == 0:
        raise InputError(
            f"R-FIT-1: drop_last with batch_size {batch_size} > {len(examples)} examples "
            "leaves no batch"
        )
    total = per_epoch * epochs
    warmup_steps = _warmup(warmup, total)
    dev_set = _dev(dev, dev_split)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError("R-FIT-1: the model has no parameter with requires_grad")

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
        "dropout": dict(model.dropout_rates),  # R-TRAIN-11: the model's, a resume must match
    }
    state: dict[str, Any] = {
        "step": 0, "losses": [], "history": [], "best": None, "seconds": 0.0,
        "settings": settings,
    }  # fmt: skip
    resumed_from = None
    if out is not None:
        ckpt.remove_temporaries(out)
        found = ckpt.latest_checkpoint(out) if resume else None
        if found is not None:
            state = _resumed(ckpt.load_checkpoint(found, model, optimizer, scheduler), settings)
            resumed_from = found
    if log_path is not None:  # R-FIT-8: the log holds the records of the state resumed from
        log_path.parent.mkdir(parents=True, exist_ok=True)
        _write_log(log_path, state["history"])

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
    best_dir = out / "best" if out is not None and dev_set is not None else None
    start = time.perf_counter() - float(state["seconds"])
    if dev_set is not None and state["step"] == 0 and not state["history"]:
        record = {"epoch": 0, "step": 0, "loss": None, "lr": scheduler.get_last_lr()[0]}
        record["seconds"] = time.perf_counter() - start
        record[f"ndcg@{DEV_K}"] = _evaluate(model, dev_set, batch_size)
        _log(log_path, state, record)

    bar = Progress("training", progress)
    order: list[list[int]] = []
    order_epoch = -1
    try:
        while state["step"] < total:
            step = int(state["step"])
            epoch, position = divmod(step, per_epoch)
            if epoch != order_epoch:
                order = batches(len(examples), batch_size, seed, epoch, drop_last=drop_last)
                order_epoch = epoch
            torch.manual_seed(_step_seed(seed, step))  # R-FIT-3
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                value = _call(loss, [examples[i] for i in order[position]], model)
                torch.autograd.backward(value)
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            scheduler.step()
            state["losses"].append(float(value.detach()))
            state["step"] = step = step + 1
            elapsed = time.perf_counter() - start
            state["seconds"] = elapsed
            recent = state["losses"][-50:]
            bar(
                f"epoch {epoch + 1}/{epochs} loss {sum(recent) / len(recent):.4f} "
                f"{step / max(elapsed, 1e-9):.2f} steps/s",
                step,
                total,
            )
            if position == per_epoch - 1:  # R-FIT-8: the end of an epoch
                mine = state["losses"][-per_epoch:]
                record = {
                    "epoch": epoch + 1,
                    "step": step,
                    "loss": math.fsum(mine) / len(mine),
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": elapsed,
                }
                if dev_set is not None:
                    score = _evaluate(model, dev_set, batch_size)
                    record[f"ndcg@{DEV_K}"] = score
                    best = state["best"]
                    if best is None or score > best[f"ndcg@{DEV_K}"]:  # R-FIT-7
                        state["best"] = record
                        if best_dir is not None:
                            _save_model(best_dir, model, card_info, state, epoch + 1, record)
                _log(log_path, state, record)
            if every is not None and out is not None and step % every == 0:
                path = out / f"checkpoint-{step}"
                ckpt.save_checkpoint(path, model, optimizer, scheduler, state)  # R-FIT-5
                if on_checkpoint is not None:
                    on_checkpoint(path)
    finally:
        bar.close()
    model.eval()
    final_dir = None
    if out is not None:
        final_dir = out / "final"
        _save_model(final_dir, model, card_info, state, epochs, None)
    return FitResult(
        steps=int(state["step"]),
        epochs=epochs,
        losses=tuple(state["losses"]),
        history=tuple(state["history"]),
        best=state["best"],
        final_dir=final_dir,
        best_dir=best_dir if best_dir is not None and best_dir.is_dir() else None,
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


def _step_seed(seed: int, step: int) -> int:
    """R-FIT-3: the torch seed of one step, a function of ``(seed, step)`` only."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1, np.uint64)[0] >> 1)


def _loss_info(loss: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"name": type(loss).__name__}
    for key, value in sorted(vars(loss).items()):
        if not key.startswith("_") and isinstance(value, (str, int, float, bool)):
            info[key] = value
    return info


def _resumed(state: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """R-FIT-6: a checkpoint resumes only the run of the same settings."""
    saved = state.get("settings", {})
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


# ----------------------------------------------------------------------------- dev


def _dev(dev: Any, split: Any) -> _DevSet | None:
    """R-FIT-4: the dev set, read and checked whole before the first step."""
    if dev is None:
        return None
    if isinstance(dev, (str, os.PathLike)):
        from lateint_ref.evaluation.beir import load_dataset

        if not isinstance(split, str) or not split:
            raise InputError(f"R-FIT-4: dev_split must be a split name, got {split!r}")
        corpus, queries, qrels = load_dataset(dev, split)
    elif isinstance(dev, tuple) and len(dev) == 3:
        corpus, queries, qrels = dev
    else:
        raise InputError(
            "R-FIT-4: dev must be (corpus, queries, qrels) or a BEIR folder, got "
            f"{type(dev).__name__}"
        )
    pairs: Iterable[Any] = corpus.items() if isinstance(corpus, Mapping) else corpus
    docs = {str(i): t for i, t in pairs}
    if not docs or not isinstance(queries, Mapping) or not isinstance(qrels, Mapping):
        raise InputError("R-FIT-4: dev needs a non-empty corpus and mappings queries and qrels")
    judged = {str(q): {str(d): int(r) for d, r in j.items()} for q, j in qrels.items()}
    ids = [str(q) for q in queries if str(q) in judged]
    if not ids:
        raise InputError("R-FIT-4: no dev query is judged in the dev qrels")
    texts = {str(q): t for q, t in queries.items()}
    bad = [x for x in [*docs.values(), *(texts[q] for q in ids)] if not isinstance(x, str)]
    if bad:
        raise InputError(f"R-FIT-4: dev texts must be strings, got {type(bad[0]).__name__}")
    return _DevSet(list(docs), list(docs.values()), ids, [texts[q] for q in ids], judged)


def _embed(model: ColBERT, texts: list[str], is_query: bool, batch_size: int) -> list[Any]:
    out = []
    for i in range(0, len(texts), batch_size):
        x, kept = model.embed(texts[i : i + batch_size], is_query=is_query)
        out += [x[j][kept[j]].float().cpu().numpy() for j in range(len(x))]
    return out


def _evaluate(model: ColBERT, dev: _DevSet, batch_size: int) -> float:
    """R-FIT-4: nDCG@10 of the dev queries by exact MaxSim over the model's embeddings (eval
    mode, float32, no gradient); the model's mode is restored."""
    from lateint_ref.evaluation import ndcg
    from lateint_ref.scoring import search_exact

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            queries = _embed(model, dev.query_texts, True, batch_size)
            documents = _embed(model, dev.doc_texts, False, batch_size)
    finally:
        model.train(was_training)
    scores, indices = search_exact(queries, documents, DEV_K)
    run = {
        q: {dev.doc_ids[int(j)]: float(s) for s, j in zip(scores[n], indices[n], strict=True)}
        for n, q in enumerate(dev.query_ids)
    }
    return ndcg(run, {q: dev.qrels[q] for q in dev.query_ids}, DEV_K)


# ----------------------------------------------------------------------------- files


def _write_log(path: Path, records: list[dict[str, Any]]) -> None:
    from lateint_ref import _files

    _files.write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))


def _log(path: Path | None, state: dict[str, Any], record: dict[str, Any]) -> None:
    """R-FIT-8: one JSON object per line, appended with one write and fsynced."""
    state["history"].append(record)
    if path is None:
        return
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _save_model(
    path: Path,
    model: ColBERT,
    info: dict[str, Any],
    state: dict[str, Any],
    epochs: int,
    record: dict[str, Any] | None,
) -> None:
    """R-FIT-7, R-FIT-9: the PyLate layout with its model card, written atomically."""
    from lateint_ref import __version__, _files

    history = list(state["history"])
    if record is not None and record not in history:
        history.append(record)
    text = model_card(
        base_model=info["base_model"],
        loss=info["loss"],
        data=info["data"],
        hyperparameters=info["hyperparameters"],
        steps=int(state["step"]),
        epochs=epochs,
        history=history,
        version=__version__,
    )

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp)
        _files.write_text_atomic(tmp / "README.md", text)

    ckpt.write_folder_atomic(path, fill)
