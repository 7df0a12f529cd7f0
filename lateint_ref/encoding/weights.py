"""Reading and checking safetensors weights (never pickle): every problem is a ``WeightsError``
naming the file, raised at load time (R-ENC-3)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from lateint_ref.encoding.architectures import Architecture
from lateint_ref.encoding.backbones import Config
from lateint_ref.errors import WeightsError

# Prefixes under which task heads (masked-LM, Stanford ColBERT's HF_ColBERT) store the backbone.
_BASE_PREFIXES = ("bert.", "model.", "roberta.")


def read_tensors(path: Path, names: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (only those of ``names`` that it holds, when given),
    floating point ones as float32."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise WeightsError(f"R-ENC-3: {path}: file not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            stored: list[str] = f.keys()  # a safe_open handle is not iterable
            wanted = [k for k in stored if names is None or k in names]
            tensors = {k: f.get_tensor(k) for k in wanted}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise WeightsError(f"R-ENC-3: {path}: not a valid safetensors file: {exc}") from exc
    out: dict[str, np.ndarray] = {}
    for name, t in tensors.items():
        out[name] = t.astype(np.float32) if t.dtype.kind == "f" else t
    return out


def backbone_tensors(
    tensors: dict[str, np.ndarray], arch: Architecture, config: Config, source: Path
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
        if named[name].dtype.kind != "f":  # an integer tensor would be used as its values
            raise WeightsError(
                f"R-ENC-3: {source}: tensor {name} has dtype {named[name].dtype}, not a float"
            )
        if not np.isfinite(named[name]).all():
            raise WeightsError(f"R-ENC-3: {source}: tensor {name} holds NaN or infinite values")
    return {name: np.ascontiguousarray(named[name]) for name in expected}


# Tensors of the source checkpoint that the encoder does not use but a saved folder keeps, so
# that transformers loads it without newly initialised weights (BERT's pooler).
_CARRIED_PREFIXES = ("pooler.",)


def carried_tensors(path: Path, used: Collection[str]) -> dict[str, np.ndarray]:
    """The tensors of the checkpoint at ``path`` that a saved model folder carries over
    unchanged (R-TRAIN-3): those under ``pooler.`` (after a task-head prefix, as
    ``backbone_tensors`` strips it) that are not in ``used``; none when ``path`` is missing."""
    if not path.is_file():
        return {}
    out: dict[str, np.ndarray] = {}
    for name, t in read_tensors(path).items():
        bare = next((name[len(p) :] for p in _BASE_PREFIXES if name.startswith(p)), name)
        if bare.startswith(_CARRIED_PREFIXES) and bare not in used:
            out[bare] = t
    return out


def checked_tensor(
    tensors: dict[str, np.ndarray], name: str, source: Path, shape: tuple[int | None, ...]
) -> np.ndarray:
    """``tensors[name]``, finite, of ``shape`` (``None``: any size on that axis), C-contiguous."""
    t = tensors.get(name)
    if t is None:
        raise WeightsError(f"R-ENC-3: {source}: no tensor {name!r}")
    want = "[" + ", ".join("*" if n is None else str(n) for n in shape) + "]"
    if t.ndim != len(shape) or any(
        n is not None and n != m for n, m in zip(shape, t.shape, strict=True)
    ):
        raise WeightsError(f"R-ENC-3: {source}: {name} has shape {tuple(t.shape)}, expected {want}")
    if t.dtype.kind != "f" or not np.isfinite(t).all():
        raise WeightsError(f"R-ENC-3: {source}: {name} holds NaN, infinite or integer values")
    return np.ascontiguousarray(t)


def linear_weight(tensors: dict[str, np.ndarray], source: Path, in_features: int) -> np.ndarray:
    """The ``[out, in]`` weight of a projection layer (``linear.weight``)."""
    return checked_tensor(tensors, "linear.weight", source, (None, in_features))
