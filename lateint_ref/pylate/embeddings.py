"""PyLate's embedding forms as NumPy arrays, without importing torch (R-PYAPI-1): a NumPy array,
a torch tensor (any device or dtype, read through ``detach().cpu()``), or nested lists of
numbers, each one ``[n_tokens, dim]`` matrix or a ``[n, n_tokens, dim]`` batch."""

from __future__ import annotations

from typing import Any

import numpy as np

from lateint_ref.errors import InputError


def is_tensor(x: Any) -> bool:
    """A torch tensor, recognised without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def array(x: Any, what: str, rule: str) -> np.ndarray:
    """``x`` as a float32 NumPy array (torch tensors copied to the CPU; bfloat16 widened)."""
    if is_tensor(x):
        t = x.detach().cpu()
        if not t.is_floating_point() or t.element_size() < 4:
            t = t.float()
        x = t.numpy()
    try:
        a = np.asarray(x, dtype=np.float32) if isinstance(x, list) else np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{rule}: {what} cannot be read as an array: {exc}") from exc
    if a.dtype.kind != "f":
        raise InputError(f"{rule}: {what} must hold floating-point numbers, got dtype {a.dtype}")
    return a.astype(np.float32, copy=False)


def matrices(x: Any, what: str, rule: str) -> list[np.ndarray]:
    """One ``[n_tokens, dim]`` matrix per item: ``x`` is a sequence of matrices, a
    ``[n, n_tokens, dim]`` batch, or one ``[n_tokens, dim]`` matrix (one item), as PyLate's
    ``convert_embeddings_to_torch`` reads them."""
    if isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, float)):
        items = [array(m, f"{what}[{i}]", rule) for i, m in enumerate(x)]
        # A list of lists of numbers is one matrix, as PyLate's convert_to_tensor reads it.
        if all(m.ndim == 1 for m in items) and isinstance(x[0], list):
            return [array(x, what, rule)]
        for i, m in enumerate(items):
            if m.ndim != 2:
                raise InputError(
                    f"{rule}: {what}[{i}] must be [n_tokens, dim], got shape {m.shape}"
                )
        return items
    if isinstance(x, (list, tuple)):
        if not x:
            return []
        raise InputError(f"{rule}: {what} must hold [n_tokens, dim] matrices, got numbers")
    a = array(x, what, rule)
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return list(a)
    raise InputError(
        f"{rule}: {what} must be [n_tokens, dim], [n, n_tokens, dim] or a list of "
        f"[n_tokens, dim], got shape {a.shape}"
    )
