"""ModernBERT's forward pass in NumPy alone (float32 throughout), the same computation as
``lateint_ref.encoding.backbones.modernbert`` (see its docstring) without torch.

``weights`` maps the safetensors names of a ``ModernBertModel`` (``"layers.0.attn.Wqkv.weight"``,
...) to float32 arrays in torch's layout (a linear weight is ``[out, in]``).
"""

from __future__ import annotations

import numpy as np

from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.backbones.numpy_ops import ACTIVATIONS, layer_norm, linear, softmax


def layer_types(config: Config) -> list[str]:
    """``"full_attention"`` or ``"sliding_attention"`` for each of the ``num_hidden_layers``:
    the config's ``layer_types``, else global when ``i % global_attn_every_n_layers == 0``."""
    n = config["num_hidden_layers"]
    types = config.get("layer_types")
    if types is None:
        every = config.get("global_attn_every_n_layers", 3)
        types = ["sliding_attention" if i % every else "full_attention" for i in range(n)]
    if len(types) != n or not set(types) <= {"full_attention", "sliding_attention"}:
        raise ValueError(f"ModernBERT: bad layer_types {types} for {n} layers")
    return list(types)


def rope_theta(config: Config, layer_type: str) -> float:
    """The rotary base of a layer type: ``rope_parameters[type]["rope_theta"]`` (transformers 5
    configs) or ``global_rope_theta`` (default 160000) / ``local_rope_theta`` (default 10000)."""
    params = (config.get("rope_parameters") or {}).get(layer_type)
    if config.get("rope_scaling") or (params and params.get("rope_type", "default") != "default"):
        raise ValueError("ModernBERT: only the default rotary embedding (no scaling) is supported")
    if params and "rope_theta" in params:
        return float(params["rope_theta"])
    if layer_type == "full_attention":
        return float(config.get("global_rope_theta", 160_000.0))
    return float(config.get("local_rope_theta", 10_000.0))


def rotary(theta: float, head_dim: int, seq: int) -> tuple[np.ndarray, np.ndarray]:
    """``cos, sin: [seq, head_dim] f32`` for positions ``0..seq-1``; dimensions ``j`` and
    ``j + head_dim / 2`` turn at ``theta ** (-2j / head_dim)`` radians per position."""
    exponent = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    inv_freq = np.float32(1) / np.power(np.float32(theta), exponent)
    angles = np.arange(seq, dtype=np.float32)[:, None] * inv_freq[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    return np.cos(angles), np.sin(angles)


def _rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """``x: [batch, heads, seq, head_dim]``: ``x * cos + [-x2, x1] * sin`` for halves x1, x2."""
    half = x.shape[-1] // 2
    turned = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    result: np.ndarray = x * cos + turned * sin
    return result


def _norm(w: dict[str, np.ndarray], name: str, x: np.ndarray, eps: np.float32) -> np.ndarray:
    """LayerNorm over the last axis of ``x: [..., hidden] f32``; bias only when stored."""
    return layer_norm(x, w[f"{name}.weight"], w.get(f"{name}.bias"), float(eps))


def _linear(w: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    """``x @ W.T + b`` with ``W: [out, in]``; bias only when stored."""
    return linear(x, w[f"{name}.weight"], w.get(f"{name}.bias"))


def _attention(
    w: dict[str, np.ndarray],
    name: str,
    x: np.ndarray,
    allowed: np.ndarray,
    cos: np.ndarray,
    sin: np.ndarray,
    heads: int,
) -> np.ndarray:
    """``x: [batch, seq, hidden]``, ``allowed: [batch, 1, seq, seq] bool`` (query, key)."""
    b, s, h = x.shape
    d = h // heads
    # Wqkv's output is laid out [3 (q, k, v), heads, head_dim].
    qkv = _linear(w, f"{name}.Wqkv", x).reshape(b, s, 3, heads, d).transpose(2, 0, 3, 1, 4)
    q, k, v = _rotate(qkv[0], cos, sin), _rotate(qkv[1], cos, sin), qkv[2]
    scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(d**-0.5)
    # A finite floor (not -inf): a padding query may see no key at all; it must stay finite.
    scores = np.where(allowed, scores, np.finfo(np.float32).min)
    out = softmax(scores) @ v  # [batch, heads, seq, head_dim]
    return _linear(w, f"{name}.Wo", out.transpose(0, 2, 1, 3).reshape(b, s, h))


def forward(
    config: Config,
    weights: dict[str, np.ndarray],
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
) -> np.ndarray:
    """``input_ids, attention_mask: [batch, seq]`` integers (mask 1 = real token) -> the last
    hidden states ``[batch, seq, hidden] f32``. Rows at padding positions are finite but
    meaningless, and never change the rows at real positions."""
    input_ids, attention_mask = np.asarray(input_ids), np.asarray(attention_mask)
    if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
        raise ValueError(
            f"ModernBERT: input_ids {input_ids.shape} and attention_mask "
            f"{attention_mask.shape} must be the same [batch, seq]"
        )
    act_name = config.get("hidden_activation", "gelu")
    if act_name not in ACTIVATIONS:
        raise ValueError(f"ModernBERT: unsupported hidden_activation {act_name!r}")
    act = ACTIVATIONS[act_name]
    w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    eps, heads = np.float32(config.get("norm_eps", 1e-5)), config["num_attention_heads"]
    types = layer_types(config)
    seq = input_ids.shape[1]
    head_dim = config["hidden_size"] // heads

    keys = attention_mask.astype(bool)[:, None, None, :]  # [batch, 1, 1, seq]
    pos = np.arange(seq)
    near = np.abs(pos[:, None] - pos[None, :]) <= config.get("local_attention", 128) // 2
    allowed = {"full_attention": keys, "sliding_attention": keys & near}
    rope = {t: rotary(rope_theta(config, t), head_dim, seq) for t in set(types)}

    x = _norm(w, "embeddings.norm", w["embeddings.tok_embeddings.weight"][input_ids], eps)
    for i, kind in enumerate(types):
        p = f"layers.{i}"
        y = x if i == 0 else _norm(w, f"{p}.attn_norm", x, eps)  # layer 0: identity
        x = x + _attention(w, f"{p}.attn", y, allowed[kind], *rope[kind], heads)
        inp, gate = np.split(_linear(w, f"{p}.mlp.Wi", _norm(w, f"{p}.mlp_norm", x, eps)), 2, -1)
        x = x + _linear(w, f"{p}.mlp.Wo", act(inp) * gate)  # first half activated, second gates
    return _norm(w, "final_norm", x, eps).astype(np.float32, copy=False)
