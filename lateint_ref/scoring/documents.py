"""``Documents``: token embeddings validated and stored once, to be scored many times."""

from __future__ import annotations

from typing import Any

import numpy as np

from lateint_ref import _native
from lateint_ref.errors import InputError
from lateint_ref.scoring.packing import pack_documents

STORAGES = ("float32", "bfloat16")


class Documents:
    """A collection of documents, each a ``[n_tokens_j, dim]`` matrix of token embeddings.

    Validation (R-MAXSIM-3 to R-MAXSIM-9) happens once, here; scoring calls then read the stored
    rows directly. ``storage="bfloat16"`` rounds every value to bfloat16 (half the memory, and the
    AVX512_BF16 dot product where the CPU has it); queries scored against it are rounded too, with
    the error bound of R-MAXSIM-11.

    Args:
        documents: a sequence of ``[n_tokens_j, dim]`` float32/float16 arrays, a packed pair
            ``(vectors [n_tokens, dim], offsets [n_docs + 1])`` or a ``[n_docs, n_tokens, dim]``
            array.
        storage: ``"float32"`` (exact) or ``"bfloat16"``.
    """

    def __init__(self, documents: Any, *, storage: str = "float32") -> None:
        if not isinstance(storage, str) or storage not in STORAGES:
            raise InputError(f"R-MAXSIM-11: storage must be one of {STORAGES}, got {storage!r}")
        vectors, offsets = pack_documents(documents)
        self._set = _native.DocumentSet(vectors, offsets, storage)

    @property
    def native(self) -> _native.DocumentSet:
        """The stored set, as the native scoring functions take it."""
        return self._set

    def __len__(self) -> int:
        return len(self._set)

    def __repr__(self) -> str:
        return (
            f"Documents(n_docs={len(self)}, n_tokens={self.n_tokens}, dim={self.dim}, "
            f"storage={self.storage!r})"
        )

    @property
    def dim(self) -> int:
        """Components per token."""
        return self._set.dim

    @property
    def storage(self) -> str:
        """``"float32"`` or ``"bfloat16"``."""
        return self._set.storage

    @property
    def offsets(self) -> np.ndarray:
        """``[n_docs + 1] int64``: document ``j`` owns token rows ``offsets[j]:offsets[j + 1]``."""
        return self._set.offsets

    @property
    def lengths(self) -> np.ndarray:
        """``[n_docs] int64`` tokens per document."""
        return np.diff(self.offsets)

    @property
    def n_tokens(self) -> int:
        """Tokens over all documents."""
        return int(self.offsets[-1])

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored token rows."""
        return self._set.nbytes
