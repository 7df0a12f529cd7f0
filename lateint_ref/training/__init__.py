"""Training late-interaction models as PyLate 1.6.0 trains them (spec/training.md): ``ColBERT``
(a ``torch.nn.Module``) and the losses ``Contrastive``, ``CachedContrastive`` and
``Distillation``; the trainer ``fit`` (spec/trainer.md); its data (``training.data``,
spec/training_data.md) and hard-negative mining (``training.mining``, spec/mining.md).

Names resolve lazily: ``from lateint_ref import training`` loads no torch; ``training.ColBERT``
does."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "ColBERT": "lateint_ref.training.model",
    "Contrastive": "lateint_ref.training.losses",
    "CachedContrastive": "lateint_ref.training.losses",
    "Distillation": "lateint_ref.training.losses",
    "fit": "lateint_ref.training.trainer",
    "FitResult": "lateint_ref.training.trainer",
}
_SUBMODULES = ("data", "mining")  # loaded on first use too

if TYPE_CHECKING:
    from lateint_ref.training import data, mining
    from lateint_ref.training.losses import CachedContrastive, Contrastive, Distillation
    from lateint_ref.training.model import ColBERT
    from lateint_ref.training.trainer import FitResult, fit

__all__ = [
    "CachedContrastive",
    "ColBERT",
    "Contrastive",
    "Distillation",
    "FitResult",
    "data",
    "fit",
    "mining",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"lateint_ref.training.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module 'lateint_ref.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
