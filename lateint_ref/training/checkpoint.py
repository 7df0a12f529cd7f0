"""The trainer's folders on disk (spec/trainer.md R-FIT-5 to R-FIT-7): checkpoints
``checkpoint-<step>/`` (the model in the PyLate layout, plus ``trainer_state.safetensors`` and
``trainer_state.json``) and the model folders ``final/`` and ``best/``.

Every folder is written under a temporary name in the same parent, each file fsynced, then
renamed into place and the parent fsynced: a folder with its final name is complete. No pickle:
tensors (model, optimizer moments, RNG state) go into safetensors, the rest into JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from lateint_ref import _files
from lateint_ref.errors import InputError
from lateint_ref.training.card import model_card
from lateint_ref.training.model import ColBERT

STATE_TENSORS = "trainer_state.safetensors"
STATE_JSON = "trainer_state.json"
FORMAT = 1
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_TEMPORARY = ".tmp-"


def write_folder_atomic(path: Path, fill: Callable[[Path], None]) -> None:
    """R-FIT-5: ``fill(tmp)`` writes the folder's files into a temporary sibling folder, which is
    fsynced and renamed to ``path`` (an older ``path`` is replaced). On any failure the temporary
    folder is removed and ``path`` keeps what it held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{_TEMPORARY}"))
    old: Path | None = None
    try:
        fill(tmp)
        _sync_tree(tmp)
        if path.exists():
            old = path.parent / f".{path.name}{_TEMPORARY}old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        _files.replace_durably(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not path.exists():
            os.replace(old, path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _sync_tree(root: Path) -> None:
    """fsync of every file and folder under ``root`` (``root`` included)."""
    for folder, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _files.sync_dir(folder)


def remove_temporaries(output_dir: Path) -> None:
    """Removes the temporary folders a killed run left in ``output_dir`` (R-FIT-6)."""
    if output_dir.is_dir():
        for entry in output_dir.iterdir():
            if entry.is_dir() and entry.name.startswith(".") and _TEMPORARY in entry.name:
                shutil.rmtree(entry, ignore_errors=True)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """R-FIT-6: the complete ``checkpoint-<step>`` folder of the highest step, or None. A
    temporary (partial) folder never has that name, so it is never picked."""
    if not output_dir.is_dir():
        return None
    found = []
    for entry in output_dir.iterdir():
        match = _CHECKPOINT.match(entry.name)
        if match and entry.is_dir() and (entry / STATE_JSON).is_file():
            found.append((int(match.group(1)), entry))
    return max(found)[1] if found else None


def step_of(path: Path) -> int:
    """The step of a ``checkpoint-<step>`` folder (as ``latest_checkpoint`` returns one)."""
    match = _CHECKPOINT.match(path.name)
    if match is None:
        raise InputError(f"R-FIT-6: {path} is not a checkpoint-<step> folder")
    return int(match.group(1))


def save_checkpoint(
    path: Path,
    model: ColBERT,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
) -> None:
    """R-FIT-5: ``path`` (``checkpoint-<step>``) holds the model in the PyLate layout and the
    trainer's state: the model's parameters as trained (f32, exact), the optimizer's moments and
    steps, the scheduler, the torch RNG state, and ``state`` (JSON: step, epoch, position...)."""
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()
    }
    opt = optimizer.state_dict()
    for index, values in opt["state"].items():
        for key, value in values.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"optimizer state {index}.{key} is not a tensor")
            tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().clone().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    document = {
        "format": FORMAT,
        "state": state,
        "param_groups": opt["param_groups"],
        "scheduler": scheduler.state_dict(),
    }

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp)
        save_file(tensors, str(tmp / STATE_TENSORS), metadata={"format": str(FORMAT)})
        _files.write_text_atomic(tmp / STATE_JSON, json.dumps(document, indent=1) + "\n")

    write_folder_atomic(path, fill)


def load_checkpoint(
    path: Path,
    model: ColBERT,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> dict[str, Any]:
    """Restores what ``save_checkpoint`` wrote into ``model``, ``optimizer``, ``scheduler`` and
    the torch RNG; returns the JSON ``state``. A folder of another format or model raises
    ``InputError`` (R-FIT-6)."""
    try:
        document = json.loads((path / STATE_JSON).read_text(encoding="utf-8"))
        tensors = load_file(str(path / STATE_TENSORS))
    except (OSError, ValueError) as exc:
        raise InputError(f"R-FIT-6: {path}: unreadable checkpoint: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"R-FIT-6: {path}: not a checkpoint of format {FORMAT}")
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise InputError(f"R-FIT-6: {path}: the checkpoint is of another model: {exc}") from exc
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            moments.setdefault(int(index), {})[key] = value
    groups = document["param_groups"]
    for group in groups:
        if isinstance(group.get("betas"), list):  # JSON has no tuples; AdamW keeps one
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": moments, "param_groups": groups})
    scheduler.load_state_dict(document["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    state: dict[str, Any] = document["state"]
    return state


def save_model(
    path: Path,
    model: ColBERT,
    info: dict[str, Any],
    state: dict[str, Any],
    epochs: int,
    record: dict[str, Any] | None,
) -> None:
    """R-FIT-7, R-FIT-9: ``final/`` or ``best/``: the PyLate layout with its model card (from
    ``info``: base model, loss, data, hyperparameters; the records of ``state`` and ``record``),
    written atomically."""
    from lateint_ref import __version__

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

    write_folder_atomic(path, fill)
