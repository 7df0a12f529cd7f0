"""lateint-ref itself in the kit's plain shapes (``--impl lateint_ref.conformance.reference:NAME``):
the kit run on this implementation, and a template for an outside one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def maxsim(queries: list[np.ndarray], documents: list[np.ndarray]) -> np.ndarray:
    """maxsim: ``[n_queries, n_docs] float32`` (spec/maxsim.md)."""
    import lateint_ref as li

    return li.maxsim(queries, documents)


def encoder(folder: str) -> Any:
    """encoder: the torch backend in float32 (R-ENC-11)."""
    import lateint_ref as li

    return li.Encoder.from_pretrained(folder, backend="torch")


def encoder_numpy(folder: str) -> Any:
    """encoder: the NumPy backend (no torch)."""
    import lateint_ref as li

    return li.Encoder.from_pretrained(folder, backend="numpy")


def evaluate(run: dict[str, Any], qrels: dict[str, Any], metrics: list[str]) -> Any:
    """metrics: per-query values ``{qid: {metric: value}}`` (spec/evaluation.md)."""
    from lateint_ref.evaluation import evaluate as ours

    return ours(run, qrels, metrics, per_query=True)


def index_read(folder: str) -> tuple[list[Any], list[np.ndarray]]:
    """index-format reader: the ids and decoded vectors of every stored document, in position
    order (R-INDEX-5, R-ISEARCH-5)."""
    import lateint_ref as li

    index = li.Index.open(folder)
    return index.ids, index.decode(np.arange(len(index.ids)))


def index_write(folder: str, documents: list[np.ndarray], ids: list[Any], **params: Any) -> None:
    """index-format writer: ``Index.create`` with the given parameters."""
    import lateint_ref as li

    li.Index.create(Path(folder), documents, ids, progress=False, **params)


def training() -> Any:
    """training: lateint-ref's losses (``lateint_ref.training``)."""
    from lateint_ref import training as module

    return module
