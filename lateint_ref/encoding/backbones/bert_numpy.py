"""BERT (as in all-MiniLM-L6-v2 and ColBERTv2) in NumPy: importable and runnable without torch.

Weights are the safetensors tensors of a ``BertModel`` (``embeddings.word_embeddings.weight``,
``encoder.layer.{i}.attention.self.query.weight``, ...); the pooler is not used.
"""

from __future__ import annotations

import numpy as np

from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.backbones.numpy_ops import ACTIVATIONS, attention, layer_norm, linear


def forward(
    config: Config,
    weights: dict[str, np.ndarray],
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
) -> np.ndarray:
    """Last hidden states ``[batch, seq, hidden]`` float32.

    ``input_ids``, ``attention_mask``: ``[batch, seq]`` integers (mask 1 = real token); token
    type 0 everywhere (single sequences).
    """
    w = weights
    eps = float(config.get("layer_norm_eps", 1e-12))
    heads = int(config["num_attention_heads"])
    act = ACTIVATIONS[config.get("hidden_act", "gelu")]
    batch, seq = input_ids.shape

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return linear(x, w[f"{name}.weight"], w[f"{name}.bias"])

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        return layer_norm(x, w[f"{name}.weight"], w[f"{name}.bias"], eps).astype(np.float32)

    x = (
        w["embeddings.word_embeddings.weight"][input_ids]
        + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    bias = np.where(attention_mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min)
    bias = bias.astype(np.float32)
    hidden = x.shape[-1]
    head_dim = hidden // heads

    def split(t: np.ndarray) -> np.ndarray:
        return t.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        q, k, v = (split(dense(x, f"{p}attention.self.{n}")) for n in ("query", "key", "value"))
        ctx = attention(q, k, v, bias).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = norm(dense(ctx, f"{p}attention.output.dense") + x, f"{p}attention.output.LayerNorm")
        mid = act(dense(x, f"{p}intermediate.dense"))
        x = norm(dense(mid, f"{p}output.dense") + x, f"{p}output.LayerNorm")
    return x.astype(np.float32)
