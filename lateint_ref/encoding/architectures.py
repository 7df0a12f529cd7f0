"""The backbones the encoder knows: for each, the ``config.json`` fields it reads (checked when a
folder is read), the tensors a checkpoint must hold (names and shapes, from that config), the
tensors it may hold and the encoder ignores, where its PyTorch module and NumPy forward pass live
(R-ENC-2, R-ENC-3), and the dropout rates its PyTorch module applies in train mode
(spec/training.md R-TRAIN-11)."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lateint_ref import _checks
from lateint_ref.encoding.backbones import Config, modernbert_numpy
from lateint_ref.encoding.backbones.numpy_ops import ACTIVATIONS
from lateint_ref.errors import WeightsError

Shapes = dict[str, tuple[int, ...]]

# A field's kind: "size" an integer >= 1, "positive" a finite number > 0, "flag" true or false.
# (name, kind, default); a default of None makes the field required.
Field = tuple[str, str, Any]


def _bert_shapes(c: Config) -> Shapes:
    h, i = c["hidden_size"], c["intermediate_size"]
    shapes: Shapes = {
        "embeddings.word_embeddings.weight": (c["vocab_size"], h),
        "embeddings.position_embeddings.weight": (c["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": (c.get("type_vocab_size", 2), h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for n in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value"):
            shapes |= {f"{p}{name}.weight": (h, h), f"{p}{name}.bias": (h,)}
        shapes |= {
            f"{p}attention.output.dense.weight": (h, h),
            f"{p}attention.output.dense.bias": (h,),
            f"{p}attention.output.LayerNorm.weight": (h,),
            f"{p}attention.output.LayerNorm.bias": (h,),
            f"{p}intermediate.dense.weight": (i, h),
            f"{p}intermediate.dense.bias": (i,),
            f"{p}output.dense.weight": (h, i),
            f"{p}output.dense.bias": (h,),
            f"{p}output.LayerNorm.weight": (h,),
            f"{p}output.LayerNorm.bias": (h,),
        }
    return shapes


def _modernbert_shapes(c: Config) -> Shapes:
    h: int = c["hidden_size"]
    i: int = c["intermediate_size"]
    norm_bias, attn_bias, mlp_bias = (
        c.get("norm_bias", False),
        c.get("attention_bias", False),
        c.get("mlp_bias", False),
    )

    def norm(name: str) -> Shapes:
        shapes: Shapes = {f"{name}.weight": (h,)}
        return shapes | ({f"{name}.bias": (h,)} if norm_bias else {})

    def dense(name: str, out: int, inp: int, bias: bool) -> Shapes:
        return {f"{name}.weight": (out, inp)} | ({f"{name}.bias": (out,)} if bias else {})

    shapes: Shapes = {"embeddings.tok_embeddings.weight": (c["vocab_size"], h)}
    shapes |= norm("embeddings.norm")
    for n in range(c["num_hidden_layers"]):
        p = f"layers.{n}."
        if n > 0:
            shapes |= norm(f"{p}attn_norm")
        shapes |= dense(f"{p}attn.Wqkv", 3 * h, h, attn_bias)
        shapes |= dense(f"{p}attn.Wo", h, h, attn_bias)
        shapes |= norm(f"{p}mlp_norm")
        shapes |= dense(f"{p}mlp.Wi", 2 * i, h, mlp_bias)
        shapes |= dense(f"{p}mlp.Wo", h, i, mlp_bias)
    return shapes | norm("final_norm")


def _bert_rules(c: Config, source: Path) -> None:
    """What BERT needs beyond its fields' types: absolute positions (R-ENC-2)."""
    kind = c.get("position_embedding_type", "absolute")
    if kind != "absolute":
        raise WeightsError(
            f"R-ENC-2: {source}: position_embedding_type {kind!r} is not supported "
            "(only 'absolute')"
        )


def _modernbert_rules(c: Config, source: Path) -> None:
    """What ModernBERT needs beyond its fields' types: an even head size (rotary embeddings),
    valid ``layer_types``, the default rotary embedding (R-ENC-2, R-ENC-3)."""
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    if head_dim % 2:
        raise WeightsError(f"R-ENC-3: {source}: the head size {head_dim} must be even (rotary)")
    types = c.get("layer_types")
    if types is not None and not (
        isinstance(types, (list, tuple)) and all(isinstance(t, str) for t in types)
    ):
        raise WeightsError(f"R-ENC-3: {source}: layer_types must be a list of names, got {types!r}")
    params = c.get("rope_parameters")
    if params is not None and not (
        isinstance(params, Mapping)
        and all(p is None or isinstance(p, Mapping) for p in params.values())
    ):
        raise WeightsError(f"R-ENC-3: {source}: rope_parameters must map layer types to objects")
    try:
        resolved = modernbert_numpy.layer_types(c)
    except ValueError as exc:
        raise WeightsError(f"R-ENC-3: {source}: {exc}") from exc
    for layer_type in set(resolved):
        try:
            theta = modernbert_numpy.rope_theta(c, layer_type)
        except (ValueError, TypeError) as exc:
            raise WeightsError(f"R-ENC-2: {source}: {exc}") from exc
        if not math.isfinite(theta) or theta <= 0:
            raise WeightsError(f"R-ENC-3: {source}: rope_theta must be > 0, got {theta!r}")


@dataclass(frozen=True)
class Architecture:
    """One backbone family."""

    name: str
    fields: tuple[Field, ...]  # the config.json fields the backbone reads
    activation: str  # the config.json field naming the activation
    rules: Callable[[Config, Path], None]  # further checks of a config whose fields are sound
    shapes: Callable[[Config], Shapes]
    ignored: tuple[str, ...]  # name prefixes a checkpoint may hold that the encoder does not use
    torch_module: str  # "module:Class"
    numpy_forward: str  # "module:function"
    embeddings: str  # the token embedding matrix
    # The config.json dropout rates the torch module applies in train mode (R-TRAIN-11), each
    # with transformers' default for a config without it.
    dropout: tuple[tuple[str, float], ...]

    def torch_class(self) -> Any:
        module, cls = self.torch_module.split(":")
        return getattr(importlib.import_module(module), cls)

    def numpy_function(self) -> Callable[..., Any]:
        module, fn = self.numpy_forward.split(":")
        forward: Callable[..., Any] = getattr(importlib.import_module(module), fn)
        return forward

    def check(self, config: Config, source: Path) -> None:
        """WeightsError naming ``source`` unless every field the backbone reads is present (or
        has a default) and of its kind, the activation is known, and the head count divides the
        hidden size (R-ENC-2, R-ENC-3)."""
        for name, kind, default in self.fields:
            if name not in config:
                if default is None:
                    raise WeightsError(f"R-ENC-3: {source}: no {name!r}")
                continue
            value = config[name]
            if kind == "size":
                ok = _checks.is_int(value) and int(value) >= 1
                what = "an integer >= 1"
            elif kind == "positive":
                ok = (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and math.isfinite(value)
                    and value > 0
                )
                what = "a number > 0"
            else:
                ok = isinstance(value, bool)
                what = "true or false"
            if not ok:
                raise WeightsError(f"R-ENC-3: {source}: {name} must be {what}, got {value!r}")
        act = config.get(self.activation, "gelu")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise WeightsError(
                f"R-ENC-2: {source}: {self.activation} {act!r} is not supported; "
                f"known: {sorted(ACTIVATIONS)}"
            )
        hidden, heads = config["hidden_size"], config["num_attention_heads"]
        if hidden % heads:
            raise WeightsError(
                f"R-ENC-3: {source}: hidden_size {hidden} is not a multiple of "
                f"num_attention_heads {heads}"
            )
        self.rules(config, source)

    def dropout_rates(self, config: Config, source: Path) -> dict[str, float]:
        """R-TRAIN-11: each dropout rate of ``config`` by name, transformers' default when it
        is absent. Read only for training (the encoder never applies dropout), so a bad value
        fails there, as WeightsError naming ``source``, and not when a folder is read."""
        rates = {}
        for name, default in self.dropout:
            value = config.get(name, default)
            if not _checks.is_rate(value):
                raise WeightsError(
                    f"R-TRAIN-11: {source}: {name} must be a number in [0, 1), got {value!r}"
                )
            rates[name] = float(value)
        return rates


_SIZES = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers")

ARCHITECTURES = {
    "bert": Architecture(
        "bert",
        (
            *((name, "size", None) for name in _SIZES),
            ("num_attention_heads", "size", None),
            ("max_position_embeddings", "size", None),
            ("type_vocab_size", "size", 2),
            ("layer_norm_eps", "positive", 1e-12),
        ),
        "hidden_act",
        _bert_rules,
        _bert_shapes,
        ("pooler.", "embeddings.position_ids"),
        "lateint_ref.encoding.backbones.bert:Bert",
        "lateint_ref.encoding.backbones.bert_numpy:forward",
        "embeddings.word_embeddings.weight",
        dropout=(("hidden_dropout_prob", 0.1), ("attention_probs_dropout_prob", 0.1)),
    ),
    "modernbert": Architecture(
        "modernbert",
        (
            *((name, "size", None) for name in _SIZES),
            ("num_attention_heads", "size", None),
            ("global_attn_every_n_layers", "size", 3),
            ("local_attention", "size", 128),
            ("norm_eps", "positive", 1e-5),
            ("global_rope_theta", "positive", 160_000.0),
            ("local_rope_theta", "positive", 10_000.0),
            ("norm_bias", "flag", False),
            ("attention_bias", "flag", False),
            ("mlp_bias", "flag", False),
        ),
        "hidden_activation",
        _modernbert_rules,
        _modernbert_shapes,
        ("head.", "decoder."),
        "lateint_ref.encoding.backbones.modernbert:ModernBert",
        "lateint_ref.encoding.backbones.modernbert_numpy:forward",
        "embeddings.tok_embeddings.weight",
        dropout=(("embedding_dropout", 0.0), ("attention_dropout", 0.0), ("mlp_dropout", 0.0)),
    ),
}


def architecture(config: Config, source: Path) -> Architecture:
    """The architecture of a backbone ``config.json``, its fields checked (R-ENC-2, R-ENC-3)."""
    raw = config.get("model_type", "")
    model_type = raw.lower().replace("_", "").replace("-", "") if isinstance(raw, str) else ""
    if model_type not in ARCHITECTURES:
        raise WeightsError(
            f"R-ENC-2: {source}: unknown architecture model_type={raw!r}; "
            f"known: {sorted(ARCHITECTURES)}"
        )
    arch = ARCHITECTURES[model_type]
    arch.check(config, source)
    return arch
