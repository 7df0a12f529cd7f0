"""``losses``: PyLate's loss classes bound to a ``models.ColBERT``, computing this project's
training losses (R-PYAPI-10, spec/training.md): ``Contrastive`` (R-TRAIN-5), ``CachedContrastive``
(R-TRAIN-6) and ``Distillation`` (R-TRAIN-7). torch is imported when a loss is built."""

from __future__ import annotations

from typing import Any

from lateint_ref.errors import InputError
from lateint_ref.pylate.models import ColBERT


def _model(model: Any) -> ColBERT:
    if not isinstance(model, ColBERT):
        raise InputError(
            f"R-PYAPI-10: model must be a lateint_ref.pylate.models.ColBERT, got "
            f"{type(model).__name__}"
        )
    return model


def _defaults(given: dict[str, Any], defaults: dict[str, Any]) -> None:
    """R-PYAPI-10: PyLate's options this facade does not provide must keep their default."""
    for name, default in defaults.items():
        if given[name] is not default and given[name] != default:
            raise InputError(
                f"R-PYAPI-10: {name}={given[name]!r} is not supported (only {default!r})"
            )


class _Bound:
    """A loss of ``lateint_ref.training`` (``self.loss``) bound to a model: called as
    ``loss(queries=[...], documents=[[...], ...])`` it returns the scalar tensor of
    ``self.loss(model.module, ...)``; ``backward()`` fills ``model.module``'s gradients.
    ``lateint_ref.training.fit(model.module, loss.loss, data)`` trains with it."""

    loss: Any
    model: ColBERT

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise InputError(
                "R-PYAPI-10: call the loss with keywords (queries=, documents=): tokenized "
                "sentence_features of sentence-transformers' trainer are not read"
            )
        return self.loss(self.model.module, **kwargs)

    forward = __call__


class Contrastive(_Bound):
    """PyLate's ``losses.Contrastive(model, ...)``: ``training.Contrastive`` (R-TRAIN-5).
    ``score_mini_batch_size`` is accepted and ignored (it only splits the scoring)."""

    def __init__(
        self,
        model: ColBERT,
        score_metric: Any = None,
        score_mini_batch_size: int | None = None,
        size_average: bool = True,
        gather_across_devices: bool = False,
        temperature: float = 1.0,
    ) -> None:
        from lateint_ref.training.losses import Contrastive as Loss

        _defaults(
            {"score_metric": score_metric, "size_average": size_average},
            {"score_metric": None, "size_average": True},
        )
        self.model = _model(model)
        self.loss = Loss(temperature=temperature, gather_across_devices=gather_across_devices)


class CachedContrastive(_Bound):
    """PyLate's ``losses.CachedContrastive(model, ...)``: ``training.CachedContrastive``
    (R-TRAIN-6), whose gradients equal ``Contrastive``'s (PyLate's are batch-size times
    larger). ``score_mini_batch_size`` and ``show_progress_bar`` are accepted and ignored."""

    def __init__(
        self,
        model: ColBERT,
        score_metric: Any = None,
        mini_batch_size: int = 32,
        score_mini_batch_size: int | None = None,
        size_average: bool = True,
        gather_across_devices: bool = False,
        show_progress_bar: bool = False,
        temperature: float = 1.0,
    ) -> None:
        from lateint_ref.training.losses import CachedContrastive as Loss

        _defaults(
            {"score_metric": score_metric, "size_average": size_average},
            {"score_metric": None, "size_average": True},
        )
        self.model = _model(model)
        self.loss = Loss(
            mini_batch_size=mini_batch_size,
            temperature=temperature,
            gather_across_devices=gather_across_devices,
        )


class Distillation(_Bound):
    """PyLate's ``losses.Distillation(model, ...)``: ``training.Distillation`` (R-TRAIN-7), called
    with ``teacher_scores=`` too."""

    def __init__(
        self,
        model: ColBERT,
        score_metric: Any = None,
        size_average: bool = True,
        normalize_scores: bool = True,
    ) -> None:
        from lateint_ref.training.losses import Distillation as Loss

        _defaults(
            {"score_metric": score_metric, "size_average": size_average},
            {"score_metric": None, "size_average": True},
        )
        self.model = _model(model)
        self.loss = Loss(normalize_scores=normalize_scores)
