"""The model card (``README.md``) the trainer writes into the model folders it saves (spec/
trainer.md R-FIT-9), in the shape sentence-transformers and PyLate give theirs: a YAML front
matter, then the base model, loss, data, hyperparameters, training steps, evaluation results and
how to load the folder with lateint-ref and with PyLate."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def model_card(
    *,
    base_model: str,
    loss: Mapping[str, Any],
    data: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    steps: int,
    epochs: int,
    history: Sequence[Mapping[str, Any]],
    version: str,
) -> str:
    """The card's Markdown text. ``loss``: ``{"name": ..., setting: value}``; ``data``:
    ``{"file": ..., "kind": ..., "examples": n}``; ``history``: the per-epoch log records
    (R-FIT-8)."""
    lines = [
        "---",
        "library_name: PyLate",
        "tags:",
        "- ColBERT",
        "- PyLate",
        "- lateint-ref",
        "- sentence-transformers",
        "- feature-extraction",
        "pipeline_tag: sentence-similarity",
        f"base_model: {json.dumps(base_model)}",
        "---",
        "",
        "# Late-interaction (ColBERT) model trained with lateint-ref",
        "",
        f"Fine-tuned from `{base_model}` by `lateint_ref.training.fit` (lateint-ref {version}).",
        "",
        "## Loss",
        "",
        f"`{loss['name']}`" + "".join(f", {k}={v!r}" for k, v in loss.items() if k != "name"),
        "",
        "## Data",
        "",
        "| field | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in data.items()),
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in hyperparameters.items()),
        "",
        "## Training",
        "",
        f"{steps} optimizer steps over {epochs} epochs.",
        "",
        "## Evaluation",
        "",
    ]
    if history:
        keys = [k for k in history[0] if k not in ("event",)]
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(_cell(r.get(k)) for k in keys) + " |" for r in history]
    else:
        lines.append("No epoch was completed.")
    lines += [
        "",
        "## Usage",
        "",
        "With lateint-ref:",
        "",
        "```python",
        "from lateint_ref import Encoder",
        "",
        'encoder = Encoder.from_pretrained("path/to/this/folder")',
        'queries = encoder.encode(["a query"], is_query=True)',
        "```",
        "",
        "With PyLate:",
        "",
        "```python",
        "from pylate import models",
        "",
        'model = models.ColBERT("path/to/this/folder")',
        'queries = model.encode(["a query"], is_query=True)',
        "```",
        "",
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
