"""Model folders: the one reader of the PyLate / sentence-transformers layout, Stanford ColBERT
checkpoints and bare backbones (R-ENC-1, R-ENC-3). Local folders only; ``saving`` writes the
PyLate layout.

``read_folder`` returns a complete, immutable ``ModelFolder``: every file it reads is checked
there, and anything malformed is a ``WeightsError`` naming the file. The encoder and the retriever
ask it, and nothing else, what a folder holds."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from lateint_ref import _checks
from lateint_ref.encoding.architectures import Architecture, architecture
from lateint_ref.encoding.tokens import SETTINGS, TokenSettings, setting_problem, with_settings
from lateint_ref.encoding.tokens import parse_tokenizer as _parse_tokenizer
from lateint_ref.encoding.weights import checked_tensor, linear_weight, read_tensors
from lateint_ref.errors import WeightsError

Kind = Literal["pylate", "stanford", "backbone"]

IDENTITY = "torch.nn.modules.linear.Identity"
SIDES = ("left", "right")


@dataclass(frozen=True, eq=False)
class Projection:
    """One Dense module: ``y = x @ weight.T (+ bias) (+ x or x @ residual.T)``; its arrays are
    read-only."""

    weight: np.ndarray  # [out, in] float32
    bias: np.ndarray | None = None  # [out] float32
    residual: np.ndarray | None = None  # [out, in] float32, when use_residual and in != out
    use_residual: bool = False


@dataclass(frozen=True)
class ModelFolder:
    """What a model folder holds, read and checked once (R-ENC-1)."""

    path: Path
    kind: Kind
    why_backbone: str  # for a bare backbone: why it is not a late-interaction model, else ""
    config: Mapping[str, Any]  # config.json of the backbone, read-only, its fields checked
    architecture: Architecture
    backbone_file: Path  # model.safetensors (its tensors are read by the encoder's builder)
    tokenizer_file: Path
    tokenizer_json: str  # the text of tokenizer.json, a tokenizer the library reads
    special: Mapping[str, str]  # mask_token, pad_token, unk_token...: the token strings
    tokenizer_settings: TokenSettings  # what the tokenizer files say (sides), defaults otherwise
    settings: TokenSettings  # the saved late-interaction settings (a backbone: as above)
    projections: tuple[Projection, ...]  # the Dense modules in order; none for a backbone
    # Every file read to build the encoder (weights, configs, tokenizer, projections), relative
    # to ``path`` in POSIX form, sorted: what a model fingerprint hashes (R-RET-9).
    files: tuple[str, ...] = ()


def _frozen(value: Any) -> Any:
    """JSON made read-only: objects as mappings, arrays as tuples (``saving`` undoes it)."""
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _json(path: Path) -> Any:
    """The JSON value of ``path``."""
    if not path.is_file():
        raise WeightsError(f"R-ENC-3: {path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(f"R-ENC-3: {path}: not valid JSON: {exc}") from exc


def _object(path: Path) -> dict[str, Any]:
    """The JSON object of ``path``."""
    value = _json(path)
    if not isinstance(value, dict):
        raise WeightsError(f"R-ENC-3: {path}: expected a JSON object, got {type(value).__name__}")
    return value


def _optional_object(path: Path) -> dict[str, Any]:
    return _object(path) if path.is_file() else {}


def _flag(data: Mapping[str, Any], key: str, default: bool, source: Path) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise WeightsError(f"R-ENC-3: {source}: {key} must be true or false, got {value!r}")
    return value


def _token_string(value: Any) -> str | None:
    """A special token as a string; an AddedToken is saved as an object with its content."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _special_tokens(root: Path) -> dict[str, str]:
    """The ``*_token`` strings of special_tokens_map.json, then tokenizer_config.json (which
    wins); other values under such names (``add_bos_token: true``) are not tokens."""
    special: dict[str, str] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        for key, value in _optional_object(root / name).items():
            token = _token_string(value) if key.endswith("_token") else None
            if token is not None:
                special[key] = token
    return special


def _tokenizer_settings(root: Path) -> TokenSettings:
    """PyLate's defaults with the padding and truncation sides of tokenizer_config.json."""
    path = root / "tokenizer_config.json"
    data = _optional_object(path)
    sides = {}
    for key in ("padding_side", "truncation_side"):
        value = data.get(key)
        if value is None:
            continue
        if value not in SIDES:
            raise WeightsError(f"R-ENC-3: {path}: {key} must be one of {SIDES}, got {value!r}")
        sides[key] = value
    return TokenSettings(**sides)


def _checked_settings(data: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """The PyLate settings among ``data`` (null: not set), each checked."""
    values = {k: v for k, v in data.items() if k in SETTINGS and v is not None}
    for name, value in values.items():
        problem = setting_problem(name, value)
        if problem is not None:
            raise WeightsError(f"R-ENC-3: {source}: {problem}")
    return values


def _modules(root: Path) -> list[tuple[str, str]]:
    """``(type, path)`` of each module of modules.json, in order."""
    path = root / "modules.json"
    listed = _json(path)
    if not isinstance(listed, list) or not listed:
        raise WeightsError(f"R-ENC-3: {path}: expected a non-empty list of modules, got {listed!r}")
    out = []
    for n, module in enumerate(listed):
        if not isinstance(module, dict):
            raise WeightsError(f"R-ENC-3: {path}: module {n} is not an object: {module!r}")
        kind, where = module.get("type"), module.get("path")
        if not isinstance(kind, str) or not isinstance(where, str):
            raise WeightsError(
                f"R-ENC-3: {path}: module {n} needs a string 'type' and 'path', got {module!r}"
            )
        parts = PurePosixPath(where).parts
        if where.startswith(("/", "\\")) or ".." in parts or "\\" in where:
            raise WeightsError(f"R-ENC-3: {path}: module {n} path {where!r} leaves the folder")
        out.append((kind, where))
    return out


def _dense(folder: Path, in_features: int) -> Projection:
    """The Dense module in ``folder``, whose input must be ``in_features`` wide."""
    config_file, weights_file = folder / "config.json", folder / "model.safetensors"
    config = _object(config_file)
    activation = config.get("activation_function", IDENTITY)
    if activation != IDENTITY:
        raise WeightsError(f"R-ENC-3: {config_file}: activation {activation!r} is not supported")
    declared: Any = config.get("in_features")
    if not _checks.is_int(declared) or int(declared) < 1:
        raise WeightsError(
            f"R-ENC-3: {config_file}: in_features must be an integer >= 1, got {declared!r}"
        )
    if int(declared) != in_features:
        raise WeightsError(
            f"R-ENC-3: {config_file}: in_features {declared} != {in_features}, the width of what "
            "it projects (the backbone's hidden size or the previous projection's output)"
        )
    has_bias = _flag(config, "bias", False, config_file)
    use_residual = _flag(config, "use_residual", False, config_file)
    tensors = read_tensors(weights_file)
    weight = linear_weight(tensors, weights_file, in_features)
    out = weight.shape[0]
    declared_out: Any = config.get("out_features", out)
    if not _checks.is_int(declared_out) or int(declared_out) != out:
        raise WeightsError(
            f"R-ENC-3: {config_file}: out_features {declared_out!r} != {out}, the rows of "
            "linear.weight"
        )
    bias = checked_tensor(tensors, "linear.bias", weights_file, (out,)) if has_bias else None
    residual = None
    if "residual.weight" in tensors:
        residual = checked_tensor(tensors, "residual.weight", weights_file, (out, in_features))
    if use_residual and residual is None and out != in_features:
        raise WeightsError(
            f"R-ENC-3: {weights_file}: use_residual with {in_features} -> {out} needs a tensor "
            "'residual.weight'"
        )
    return Projection(
        _read_only(weight),
        None if bias is None else _read_only(bias),
        None if residual is None else _read_only(residual),
        use_residual,
    )


def _stanford_settings(root: Path, base: TokenSettings) -> TokenSettings:
    """The settings in artifact.metadata, with Stanford ColBERT's defaults."""
    path = root / "artifact.metadata"
    meta = _object(path)
    names = {
        "query_token_id": ("query_prefix", "[unused0]"),
        "doc_token_id": ("document_prefix", "[unused1]"),
        "query_maxlen": ("query_length", 32),
        "doc_maxlen": ("document_length", 180),
        "attend_to_mask_tokens": ("attend_to_expansion_tokens", False),
    }
    values = {}
    for key, (name, default) in names.items():
        value = meta.get(key, default)
        problem = setting_problem(name, value)
        if problem is not None:
            raise WeightsError(f"R-ENC-3: {path}: {problem.replace(name, key, 1)}")
        values[name] = value
    return with_settings(base, values)


def read_folder(path: str | os.PathLike[str]) -> ModelFolder:
    """Reads a PyLate folder, a Stanford ColBERT checkpoint or a bare backbone folder (any other
    folder with ``config.json``, ``model.safetensors`` and ``tokenizer.json``; a
    sentence-transformers folder whose modules are not all Dense is one). FileNotFoundError when
    ``path`` is not a folder; WeightsError naming the file for anything malformed."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"model folder not found: {root}")
    config_file = root / "config.json"
    config = _object(config_file)
    arch = architecture(config, config_file)
    hidden = int(config["hidden_size"])
    special = _special_tokens(root)
    base = _tokenizer_settings(root)
    projections: list[Projection] = []
    read = [config_file, root / "model.safetensors", root / "tokenizer.json"]
    read += [root / n for n in ("special_tokens_map.json", "tokenizer_config.json")]
    kind: Kind = "backbone"
    why = "no modules.json or artifact.metadata"
    settings = base
    if (root / "modules.json").is_file():
        modules = _modules(root)
        others = [t for t, _ in modules[1:] if not t.endswith("Dense")]
        if others:
            why = (
                f"{root / 'modules.json'}: module {others[0]!r} is not a late-interaction "
                "projection"
            )
        elif len(modules) == 1:
            raise WeightsError(
                f"R-ENC-3: {root / 'modules.json'}: no projection (Dense) module after the backbone"
            )
        else:
            kind, why = "pylate", ""
            width = hidden
            for _, where in modules[1:]:
                projections.append(_dense(root / where, width))
                width = projections[-1].weight.shape[0]
                read += [root / where / "config.json", root / where / "model.safetensors"]
            st = root / "config_sentence_transformers.json"
            sbert = root / "sentence_bert_config.json"
            read += [root / "modules.json", st, sbert]
            values = _checked_settings(_optional_object(st), st)
            lower = _flag(_optional_object(sbert), "do_lower_case", False, sbert)
            settings = replace(with_settings(base, values), do_lower_case=lower)
    elif (root / "artifact.metadata").is_file():
        kind, why = "stanford", ""
        settings = _stanford_settings(root, base)
        read.append(root / "artifact.metadata")
        weights_file = root / "model.safetensors"
        tensors = read_tensors(weights_file, names=("linear.weight",))
        projections.append(Projection(_read_only(linear_weight(tensors, weights_file, hidden))))
    tokenizer_file = root / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise WeightsError(
            f"R-ENC-3: {tokenizer_file}: file not found (a fast tokenizer is needed)"
        )
    try:
        tokenizer_json = tokenizer_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"R-ENC-3: {tokenizer_file}: cannot read: {exc}") from exc
    _parse_tokenizer(tokenizer_json, tokenizer_file)  # checked here, parsed again per purpose
    return ModelFolder(
        path=root,
        kind=kind,
        why_backbone=why,
        config=_frozen(config),
        architecture=arch,
        backbone_file=root / "model.safetensors",
        tokenizer_file=tokenizer_file,
        tokenizer_json=tokenizer_json,
        special=MappingProxyType(special),
        tokenizer_settings=base,
        settings=settings,
        projections=tuple(projections),
        files=tuple(sorted({p.relative_to(root).as_posix() for p in read if p.is_file()})),
    )
