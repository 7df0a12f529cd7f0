"""Model folders: reading the PyLate / sentence-transformers layout, Stanford ColBERT checkpoints
and bare backbones; writing the PyLate layout (R-ENC-1, R-ENC-9). Local folders only."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.encoding.tokens import TokenSettings
from lateint_ref.encoding.weights import linear_weight, read_json, read_tensors
from lateint_ref.errors import WeightsError

IDENTITY = "torch.nn.modules.linear.Identity"
TOKENIZER_FILES = ("tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class Projection:
    """One Dense module: ``y = x @ weight.T (+ bias) (+ x or x @ residual.T)``."""

    weight: np.ndarray  # [out, in] float32
    bias: np.ndarray | None = None  # [out]
    residual: np.ndarray | None = None  # [out, in] when use_residual and in != out
    use_residual: bool = False


@dataclass
class Folder:
    """What a model folder holds, read and checked."""

    path: Path
    kind: str  # "pylate", "stanford" or "backbone"
    backbone_config: dict
    backbone_file: Path
    tokenizer_file: Path
    special: dict
    settings: TokenSettings
    projections: list[Projection]


def _settings_from(config: dict, base: TokenSettings) -> TokenSettings:
    known = {f.name for f in fields(TokenSettings)}
    values = {k: v for k, v in config.items() if k in known and v is not None}
    if "skiplist_words" in values:
        values["skiplist_words"] = tuple(values["skiplist_words"])
    return replace(base, **values)


def _special_tokens(path: Path) -> dict:
    special: dict = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        if (path / name).is_file():
            data = read_json(path / name)
            special |= {k: v for k, v in data.items() if k.endswith("_token")}
    return special


def _tokenizer_sides(path: Path) -> dict:
    if not (path / "tokenizer_config.json").is_file():
        return {}
    data = read_json(path / "tokenizer_config.json")
    return {k: data[k] for k in ("padding_side", "truncation_side") if k in data}


def _dense(path: Path) -> Projection:
    config = read_json(path / "config.json")
    activation = config.get("activation_function", IDENTITY)
    if activation != IDENTITY:
        raise WeightsError(f"R-ENC-3: {path}: activation {activation!r} is not supported")
    tensors = read_tensors(path / "model.safetensors")
    weight = linear_weight(tensors, path / "model.safetensors", int(config["in_features"]))
    bias = tensors.get("linear.bias") if config.get("bias", False) else None
    residual = tensors.get("residual.weight")
    return Projection(weight, bias, residual, bool(config.get("use_residual", False)))


def read_folder(path: str | os.PathLike, *, as_backbone: bool = False) -> Folder:
    """Reads a PyLate folder, a Stanford ColBERT checkpoint or a bare backbone folder
    (``as_backbone``: only the backbone and tokenizer of whatever folder it is)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"model folder not found: {root}")
    backbone_config = read_json(root / "config.json")
    special = _special_tokens(root)
    base = TokenSettings(**_tokenizer_sides(root))
    projections: list[Projection] = []
    if as_backbone:
        kind = "backbone"
        settings = base
    elif (root / "modules.json").is_file():
        kind = "pylate"
        modules = json.loads((root / "modules.json").read_text())
        for module in modules[1:]:
            if not str(module.get("type", "")).endswith("Dense"):
                raise WeightsError(
                    f"R-ENC-1: {root}/modules.json: module {module.get('type')!r} is not a "
                    "late-interaction projection; for a plain backbone use Encoder.from_backbone"
                )
            projections.append(_dense(root / module["path"]))
        st = root / "config_sentence_transformers.json"
        settings = _settings_from(read_json(st) if st.is_file() else {}, base)
        sbert = root / "sentence_bert_config.json"
        if sbert.is_file():
            lower = bool(read_json(sbert).get("do_lower_case", False))
            settings = replace(settings, do_lower_case=lower)
    elif (root / "artifact.metadata").is_file():
        kind = "stanford"
        meta = read_json(root / "artifact.metadata")
        settings = replace(
            base,
            query_prefix=meta.get("query_token_id", "[unused0]"),
            document_prefix=meta.get("doc_token_id", "[unused1]"),
            query_length=int(meta.get("query_maxlen", 32)),
            document_length=int(meta.get("doc_maxlen", 180)),
            attend_to_expansion_tokens=bool(meta.get("attend_to_mask_tokens", False)),
        )
        tensors = read_tensors(root / "model.safetensors")
        hidden = int(backbone_config.get("hidden_size", 0))
        projections.append(Projection(linear_weight(tensors, root / "model.safetensors", hidden)))
    else:
        kind = "backbone"
        settings = base
    tokenizer_file = root / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise WeightsError(
            f"R-ENC-3: {tokenizer_file}: file not found (a fast tokenizer is needed)"
        )
    return Folder(
        root,
        kind,
        backbone_config,
        root / "model.safetensors",
        tokenizer_file,
        special,
        settings,
        projections,
    )


def _write(path: Path, data: bytes) -> None:
    """Writes ``data`` atomically: a temporary file in the same folder, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json(path: Path, value: Any) -> None:
    _write(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode())


def _tensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save

    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    _write(path, save(contiguous, metadata={"format": "pt"}))


def write_folder(
    path: str | os.PathLike,
    *,
    source: Path,
    backbone_config: dict,
    backbone: dict[str, np.ndarray],
    tokenizer_json: str,
    special: dict,
    settings: TokenSettings,
    projections: list[Projection],
    versions: dict,
) -> None:
    """Writes the PyLate layout, so that ``pylate.models.ColBERT(path)`` loads it (R-ENC-9)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    _json(root / "config.json", backbone_config)
    _tensors(root / "model.safetensors", backbone)
    _write(root / "tokenizer.json", tokenizer_json.encode())
    for name in TOKENIZER_FILES:
        if (source / name).is_file() and source.resolve() != root.resolve():
            _write(root / name, (source / name).read_bytes())
    if not (root / "tokenizer_config.json").is_file():
        _json(
            root / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast"} | special
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
        _json(
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
        _tensors(root / folder / "model.safetensors", tensors)
    _json(
        root / "sentence_bert_config.json",
        {
            "max_seq_length": max(settings.query_length, settings.document_length),
            "do_lower_case": settings.do_lower_case,
        },
    )
    _json(
        root / "config_sentence_transformers.json",
        {
            "__version__": versions,
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
    _json(root / "modules.json", modules)
