"""ModernBERT (as in ModernBERT-base and GTE-ModernColBERT) in PyTorch, written from its definition.

Parameter names equal the safetensors names of a ``ModernBertModel`` so that a checkpoint loads with
``load_state_dict(strict=True)``.

The computation, for ``input_ids, attention_mask: [batch, seq] int64``:

- embeddings: ``LayerNorm(tok_embeddings[input_ids])`` (no bias when ``norm_bias`` is false);
- layer ``i`` is global (full attention) when ``i % global_attn_every_n_layers == 0`` (or as the
  config's ``layer_types`` says), else local: query ``p`` sees key ``k`` only when
  ``|p - k| <= local_attention // 2``; every layer also hides padding keys (mask 0);
- ``h += Wo(attention(attn_norm(h)))`` (layer 0's ``attn_norm`` is the identity), then
  ``h += mlp(mlp_norm(h))`` with ``mlp(x) = Wo(act(a) * g)`` where ``a, g = split(Wi(x), 2)``;
- rotary embeddings on queries and keys, positions ``0..seq-1`` on every row whatever the padding,
  half-split rotation (dimension ``j`` pairs with ``j + head_dim / 2``), base ``global_rope_theta``
  on global layers and ``local_rope_theta`` on local ones; scores scaled by ``head_dim ** -0.5``;
- ``final_norm`` at the end.

Dropout (train mode only, spec/training.md R-TRAIN-11), where transformers' ``ModernBertModel``
applies it: ``embedding_dropout`` after the embeddings' norm, ``attention_dropout`` on the
attention probabilities and on ``Wo``'s output, ``mlp_dropout`` on ``act(a) * g`` before the MLP's
``Wo``. The rates are given by the caller (``dropout``, keyed by those config names; a missing
name is 0): the inference encoder builds the module without any.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.backbones.modernbert_numpy import layer_types, rope_theta
from lateint_ref.encoding.backbones.torch_ops import ACTIVATIONS, Dropout, attention_dropout

EMBEDDING, ATTENTION, MLP = "embedding_dropout", "attention_dropout", "mlp_dropout"


def rotary(theta: float, head_dim: int, seq: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos, sin: [seq, head_dim] f32`` for positions ``0..seq-1``; the frequency of dimension
    ``j`` (and ``j + head_dim / 2``) is ``theta ** (-2j / head_dim)``."""
    exponent = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    inv_freq = 1.0 / (theta**exponent)  # [head_dim / 2] f32
    angles = torch.arange(seq, dtype=torch.float32)[:, None] * inv_freq[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x: [batch, heads, seq, head_dim]``: ``x * cos + [-x2, x1] * sin`` for halves x1, x2."""
    x32 = x.float()  # in float32 whatever the model's dtype, as transformers does
    x1, x2 = x32.chunk(2, dim=-1)
    return (x32 * cos + torch.cat((-x2, x1), dim=-1) * sin).to(x.dtype)


class _Embeddings(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        self.tok_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.norm = _norm(c)
        self.drop = Dropout(dropout.get(EMBEDDING, 0.0))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.drop(self.norm(self.tok_embeddings(input_ids)))
        return result


def _norm(c: Config) -> nn.LayerNorm:
    return nn.LayerNorm(
        c["hidden_size"], eps=c.get("norm_eps", 1e-5), bias=c.get("norm_bias", False)
    )


class _Attention(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        h, bias = c["hidden_size"], c.get("attention_bias", False)
        self.heads = c["num_attention_heads"]
        if h % self.heads:
            raise ValueError(f"ModernBERT: hidden_size {h} is not a multiple of the head count")
        self.Wqkv = nn.Linear(h, 3 * h, bias=bias)
        self.Wo = nn.Linear(h, h, bias=bias)
        self.attention_dropout = dropout.get(ATTENTION, 0.0)  # on the attention probabilities
        self.out_drop = Dropout(self.attention_dropout)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        """``x: [batch, seq, hidden]``, ``allowed: [batch, 1, seq, seq] bool`` (query, key)."""
        b, s, h = x.shape
        # Wqkv's output is laid out [3 (q, k, v), heads, head_dim].
        qkv = self.Wqkv(x).view(b, s, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = _rotate(qkv[0], cos, sin), _rotate(qkv[1], cos, sin), qkv[2]
        scores = (q @ k.transpose(-1, -2)) * (h // self.heads) ** -0.5
        # A finite floor (not -inf): a padding query may see no key at all; it must stay finite.
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1, dtype=torch.float32).to(v.dtype)
        weights = attention_dropout(weights, self.attention_dropout, self.training)
        out = weights @ v  # [batch, heads, seq, head_dim]
        result: torch.Tensor = self.out_drop(self.Wo(out.transpose(1, 2).reshape(b, s, h)))
        return result


class _Mlp(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        h, inter, bias = c["hidden_size"], c["intermediate_size"], c.get("mlp_bias", False)
        self.act = ACTIVATIONS[c.get("hidden_activation", "gelu")]
        self.Wi = nn.Linear(h, 2 * inter, bias=bias)
        self.Wo = nn.Linear(inter, h, bias=bias)
        self.drop = Dropout(dropout.get(MLP, 0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp, gate = self.Wi(x).chunk(2, dim=-1)  # the first half is activated, the second gates
        result: torch.Tensor = self.Wo(self.drop(self.act(inp) * gate))
        return result


class _Layer(nn.Module):
    def __init__(self, c: Config, index: int, dropout: Mapping[str, float]) -> None:
        super().__init__()
        self.attn_norm = nn.Identity() if index == 0 else _norm(c)
        self.attn = _Attention(c, dropout)
        self.mlp_norm = _norm(c)
        self.mlp = _Mlp(c, dropout)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), allowed, cos, sin)
        result: torch.Tensor = x + self.mlp(self.mlp_norm(x))
        return result


class ModernBert(nn.Module):
    """ModernBERT's encoder without a head; ``config`` is the HF ``config.json`` as a dict,
    ``dropout`` the train-mode rates by config name (``embedding_dropout``,
    ``attention_dropout``, ``mlp_dropout``; absent: 0)."""

    def __init__(self, config: Config, dropout: Mapping[str, float] | None = None) -> None:
        super().__init__()
        rates = dropout or {}
        act = config.get("hidden_activation", "gelu")
        if act not in ACTIVATIONS:
            raise ValueError(f"ModernBERT: unsupported hidden_activation {act!r}")
        self.types = layer_types(config)
        self.thetas = {t: rope_theta(config, t) for t in set(self.types)}
        self.half_window = config.get("local_attention", 128) // 2
        self.head_dim = config["hidden_size"] // config["num_attention_heads"]
        self.embeddings = _Embeddings(config, rates)
        self.layers = nn.ModuleList(
            _Layer(config, i, rates) for i in range(config["num_hidden_layers"])
        )
        self.final_norm = _norm(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``input_ids, attention_mask: [batch, seq] int64`` (mask 1 = real token). Returns the
        last hidden states ``[batch, seq, hidden] f32``; rows at padding positions are finite but
        meaningless, and never change the rows at real positions."""
        if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
            raise ValueError(
                f"ModernBERT: input_ids {tuple(input_ids.shape)} and attention_mask "
                f"{tuple(attention_mask.shape)} must be the same [batch, seq]"
            )
        seq, device = input_ids.shape[1], input_ids.device
        keys = attention_mask.bool()[:, None, None, :]  # [batch, 1, 1, seq]
        pos = torch.arange(seq, device=device)
        near = (pos[:, None] - pos[None, :]).abs() <= self.half_window  # [seq, seq]
        allowed = {"full_attention": keys, "sliding_attention": keys & near}
        rope = {
            t: [r.to(device) for r in rotary(th, self.head_dim, seq)]
            for t, th in self.thetas.items()
        }
        x = self.embeddings(input_ids)
        for layer, kind in zip(self.layers, self.types, strict=True):
            x = layer(x, allowed[kind], *rope[kind])
        result: torch.Tensor = self.final_norm(x)
        return result
