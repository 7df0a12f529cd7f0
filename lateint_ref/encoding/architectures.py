"""The backbones the encoder knows: for each, the tensors a checkpoint must hold (names and
shapes, from its ``config.json``), the tensors it may hold and the encoder ignores, and where its
PyTorch module and NumPy forward pass live (R-ENC-2)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lateint_ref.encoding.backbones.numpy_ops import ACTIVATIONS
from lateint_ref.errors import WeightsError

Shapes = dict[str, tuple[int, ...]]


def _bert_shapes(c: dict) -> Shapes:
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


def _modernbert_shapes(c: dict) -> Shapes:
    h, i = c["hidden_size"], c["intermediate_size"]
    norm_bias, attn_bias, mlp_bias = (
        c.get("norm_bias", False),
        c.get("attention_bias", False),
        c.get("mlp_bias", False),
    )

    def norm(name: str) -> Shapes:
        return {f"{name}.weight": (h,)} | ({f"{name}.bias": (h,)} if norm_bias else {})

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


@dataclass(frozen=True)
class Architecture:
    """One backbone family."""

    name: str
    shapes: Callable[[dict], Shapes]
    ignored: tuple[str, ...]  # name prefixes a checkpoint may hold that the encoder does not use
    torch_module: str  # "module:Class"
    numpy_forward: str  # "module:function"
    embeddings: str  # the token embedding matrix

    def torch_class(self) -> Any:
        module, cls = self.torch_module.split(":")
        return getattr(importlib.import_module(module), cls)

    def numpy_function(self) -> Callable[..., Any]:
        module, fn = self.numpy_forward.split(":")
        return getattr(importlib.import_module(module), fn)


ARCHITECTURES = {
    "bert": Architecture(
        "bert",
        _bert_shapes,
        ("pooler.", "embeddings.position_ids"),
        "lateint_ref.encoding.backbones.bert:Bert",
        "lateint_ref.encoding.backbones.bert_numpy:forward",
        "embeddings.word_embeddings.weight",
    ),
    "modernbert": Architecture(
        "modernbert",
        _modernbert_shapes,
        ("head.", "decoder."),
        "lateint_ref.encoding.backbones.modernbert:ModernBert",
        "lateint_ref.encoding.backbones.modernbert_numpy:forward",
        "embeddings.tok_embeddings.weight",
    ),
}


def architecture(config: dict, source: str) -> Architecture:
    """The architecture of a backbone ``config.json`` (R-ENC-2)."""
    model_type = str(config.get("model_type", "")).lower().replace("_", "").replace("-", "")
    if model_type not in ARCHITECTURES:
        raise WeightsError(
            f"R-ENC-2: {source}: unknown architecture model_type={config.get('model_type')!r}; "
            f"known: {sorted(ARCHITECTURES)}"
        )
    key = "hidden_act" if model_type == "bert" else "hidden_activation"
    if config.get(key, "gelu") not in ACTIVATIONS:
        raise WeightsError(
            f"R-ENC-2: {source}: {key} {config[key]!r} is not supported; "
            f"known: {sorted(ACTIVATIONS)}"
        )
    if model_type == "bert" and config.get("position_embedding_type", "absolute") != "absolute":
        raise WeightsError(
            f"R-ENC-2: {source}: position_embedding_type "
            f"{config['position_embedding_type']!r} is not supported (only 'absolute')"
        )
    return ARCHITECTURES[model_type]
