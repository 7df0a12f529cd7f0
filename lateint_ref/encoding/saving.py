"""Saving an encoder in the PyLate layout (R-ENC-9): each file written atomically by
``lateint_ref._files``, ``modules.json`` last, so that ``pylate.models.ColBERT(path)`` and
``folder.read_folder`` load it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref import _files
from lateint_ref.encoding.folder import IDENTITY, Projection
from lateint_ref.encoding.tokens import TokenSettings
from lateint_ref.encoding.weights import carried_tensors

TOKENIZER_FILES = ("tokenizer_config.json", "special_tokens_map.json")


def _plain(value: Any) -> Any:
    """A read-only description's JSON (mappings, tuples) as ``json.dumps`` takes it."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _write_json(path: Path, value: Any) -> None:
    text = json.dumps(_plain(value), indent=2, ensure_ascii=False) + "\n"
    _files.write_atomic(path, text.encode())


def _write_tensors(path: Path, tensors: Mapping[str, np.ndarray]) -> None:
    from safetensors.numpy import save

    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    _files.write_atomic(path, save(contiguous, metadata={"format": "pt"}))


def write_folder(
    path: str | os.PathLike[str],
    *,
    source: Path,
    backbone_config: Mapping[str, Any],
    backbone: Mapping[str, np.ndarray],
    tokenizer_json: str,
    special: Mapping[str, str],
    settings: TokenSettings,
    projections: tuple[Projection, ...],
    versions: Mapping[str, str],
    source_weights: Path | None = None,
) -> None:
    """Writes the PyLate layout, each file atomically and ``modules.json`` last, so that
    ``pylate.models.ColBERT(path)`` loads it (R-ENC-9). Tensors of ``source_weights`` that the
    encoder does not use but transformers loads (BERT's pooler) are carried over unchanged."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / "config.json", backbone_config)
    if source_weights is not None:
        backbone = dict(backbone) | carried_tensors(source_weights, backbone)
    _write_tensors(root / "model.safetensors", backbone)
    _files.write_atomic(root / "tokenizer.json", tokenizer_json.encode())
    for name in TOKENIZER_FILES:
        if (source / name).is_file() and source.resolve() != root.resolve():
            _files.write_atomic(root / name, (source / name).read_bytes())
    if not (root / "tokenizer_config.json").is_file():
        _write_json(
            root / "tokenizer_config.json",
            {"tokenizer_class": "PreTrainedTokenizerFast"} | dict(special),
        )
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
    ]
    for i, p in enumerate(projections, start=1):
        folder = f"{i}_Dense"
        modules.append(
            {"idx": i, "name": str(i), "path": folder, "type": "pylate.models.Dense.Dense"}
        )
        (root / folder).mkdir(exist_ok=True)
        out_features, in_features = p.weight.shape
        _write_json(
            root / folder / "config.json",
            {
                "in_features": in_features,
                "out_features": out_features,
                "bias": p.bias is not None,
                "activation_function": IDENTITY,
                "use_residual": p.use_residual,
            },
        )
        tensors = {"linear.weight": p.weight}
        if p.bias is not None:
            tensors["linear.bias"] = p.bias
        if p.residual is not None:
            tensors["residual.weight"] = p.residual
        _write_tensors(root / folder / "model.safetensors", tensors)
    _write_json(
        root / "sentence_bert_config.json",
        {
            "max_seq_length": max(settings.query_length, settings.document_length),
            "do_lower_case": settings.do_lower_case,
        },
    )
    _write_json(
        root / "config_sentence_transformers.json",
        {
            "__version__": dict(versions),
            "prompts": {"query": "", "document": ""},
            "default_prompt_name": None,
            "similarity_fn_name": "MaxSim",
            "query_prefix": settings.query_prefix,
            "document_prefix": settings.document_prefix,
            "query_length": settings.query_length,
            "document_length": settings.document_length,
            "attend_to_expansion_tokens": settings.attend_to_expansion_tokens,
            "skiplist_words": list(settings.skiplist_words),
            "do_query_expansion": settings.do_query_expansion,
        },
    )
    # The manifest of the folder: written last, so a reader never sees a half-written model.
    _write_json(root / "modules.json", modules)
