"""``retrieve.ColBERT``: PyLate's retriever over an ``indexes.PLAID`` (R-PYAPI-8)."""

from __future__ import annotations

from typing import Any

from lateint_ref.errors import InputError
from lateint_ref.pylate.indexes import PLAID
from lateint_ref.pylate.rank import RerankResult


class ColBERT:
    """``retrieve.ColBERT(index)``: searches an ``indexes.PLAID`` (R-PYAPI-8)."""

    def __init__(self, index: PLAID) -> None:
        if not isinstance(index, PLAID):
            raise InputError(
                f"R-PYAPI-8: index must be a lateint_ref.pylate.indexes.PLAID, got "
                f"{type(index).__name__}"
            )
        self.index = index

    def retrieve(
        self,
        queries_embeddings: Any,
        k: int = 10,
        k_token: int | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        subset: list[list[Any]] | list[Any] | None = None,
    ) -> list[list[RerankResult]]:
        """The index's results (``PLAID.__call__``): one list of ``{"id", "score"}`` per query,
        best first. ``k_token``, ``device`` and ``batch_size`` are accepted and ignored (PyLate
        uses them only with token-level indexes)."""
        return self.index(queries_embeddings, k=k, subset=subset)
