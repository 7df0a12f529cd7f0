"""Reading and checking safetensors weights (never pickle): every problem is a ``WeightsError``
naming the file, raised at load time (R-ENC-3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.encoding.architectures import Architecture
from lateint_ref.errors import WeightsError

# Prefixes under which task heads (masked-LM, Stanford ColBERT's HF_ColBERT) store the backbone.
_BASE_PREFIXES = ("bert.", "model.", "roberta.")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; WeightsError if missing or malformed."""
    if not path.is_file():
        raise WeightsError(f"R-ENC-3: {path}: file not found")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"R-ENC-3: {path}: not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise WeightsError(f"R-ENC-3: {path}: expected a JSON object, got {type(value).__name__}")
    return value


def read_tensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as float32 (or integer) NumPy arrays."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise WeightsError(f"R-ENC-3: {path}: file not found")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise WeightsError(f"R-ENC-3: {path}: not a valid safetensors file: {exc}") from exc
    out = {}
    for name, t in tensors.items():
        out[name] = t.astype(np.float32) if t.dtype.kind == "f" else t
    return out


def backbone_tensors(
    tensors: dict[str, np.ndarray], arch: Architecture, config: dict, source: Path
) -> dict[str, np.ndarray]:
    """The backbone's tensors, named as ``arch`` expects and checked against its shapes.

    Tensors under a task-head prefix (``bert.``, ``model.``) are renamed; tensors the encoder
    does not use (pooler, LM head, other modules) are dropped.
    """
    expected = arch.shapes(config)
    # Legacy LayerNorm names (some writers, transformers 5 among them, save these).
    named = {
        k.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias"
        ): v
        for k, v in tensors.items()
    }
    if not set(expected) & set(named):
        for prefix in _BASE_PREFIXES:
            stripped = {k[len(prefix) :]: v for k, v in named.items() if k.startswith(prefix)}
            if set(expected) & set(stripped):
                named = stripped
                break
    missing = sorted(set(expected) - set(named))
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise WeightsError(f"R-ENC-3: {source}: missing tensors {missing[:3]}{more}")
    for name, shape in expected.items():
        if tuple(named[name].shape) != shape:
            raise WeightsError(
                f"R-ENC-3: {source}: tensor {name} has shape {tuple(named[name].shape)}, "
                f"config.json implies {shape}"
            )
        if not np.isfinite(named[name]).all():
            raise WeightsError(f"R-ENC-3: {source}: tensor {name} holds NaN or infinite values")
    return {name: np.ascontiguousarray(named[name]) for name in expected}


def linear_weight(tensors: dict[str, np.ndarray], source: Path, in_features: int) -> np.ndarray:
    """The ``[out, in]`` weight of a projection layer (``linear.weight``)."""
    w = tensors.get("linear.weight")
    if w is None:
        raise WeightsError(f"R-ENC-3: {source}: no tensor 'linear.weight'")
    if w.ndim != 2 or w.shape[1] != in_features:
        raise WeightsError(
            f"R-ENC-3: {source}: linear.weight has shape {tuple(w.shape)}, "
            f"expected [out, {in_features}]"
        )
    if not np.isfinite(w).all():
        raise WeightsError(f"R-ENC-3: {source}: linear.weight holds NaN or infinite values")
    return np.ascontiguousarray(w)
