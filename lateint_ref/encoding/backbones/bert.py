"""BERT (as in all-MiniLM-L6-v2 and ColBERTv2) in PyTorch, written from its definition.

Parameter names equal the safetensors names of a ``BertModel`` so that a checkpoint loads with
``load_state_dict(strict=True)`` (after dropping the unused ``pooler.*`` tensors).

Dropout (train mode only, spec/training.md R-TRAIN-11), where transformers' ``BertModel`` applies
it: ``hidden_dropout_prob`` after the embeddings' LayerNorm and on each attention and feed-forward
output before its residual LayerNorm, ``attention_probs_dropout_prob`` on the attention
probabilities. The rates are given by the caller (``dropout``, keyed by those config names; a
missing name is 0): the inference encoder builds the module without any.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.backbones.torch_ops import ACTIVATIONS, Dropout

HIDDEN, ATTENTION = "hidden_dropout_prob", "attention_probs_dropout_prob"


class _Embeddings(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], h)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), h)
        self.LayerNorm = nn.LayerNorm(h, eps=c.get("layer_norm_eps", 1e-12))
        self.dropout = Dropout(dropout.get(HIDDEN, 0.0))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)[None]
            + self.token_type_embeddings.weight[0]
        )
        result: torch.Tensor = self.dropout(self.LayerNorm(x))
        return result


class _Dense(nn.Module):
    """A linear layer, dropout, then a residual LayerNorm (BERT's ``*.output`` blocks)."""

    def __init__(self, d_in: int, d_out: int, eps: float, p: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)
        self.dropout = Dropout(p)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.LayerNorm(self.dropout(self.dense(x)) + residual)
        return result


class _SelfAttention(nn.Module):
    def __init__(self, h: int, heads: int, p: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.dropout = Dropout(p)  # its rate, on the attention probabilities (inside SDPA)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, s, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        # dropout(softmax(q k^T / sqrt(head_dim) + bias)) v, fused; dropout in train mode only.
        p = self.dropout.p if self.training else 0.0
        ctx = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p
        )
        return ctx.transpose(1, 2).reshape(b, s, h)


class _Attention(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        h, eps = c["hidden_size"], c.get("layer_norm_eps", 1e-12)
        self.self = _SelfAttention(h, c["num_attention_heads"], dropout.get(ATTENTION, 0.0))
        self.output = _Dense(h, h, eps, dropout.get(HIDDEN, 0.0))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.output(self.self(x, bias), x)
        return result


class _Intermediate(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.act = ACTIVATIONS[c.get("hidden_act", "gelu")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.act(self.dense(x))
        return result


class _Layer(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        eps = c.get("layer_norm_eps", 1e-12)
        self.attention = _Attention(c, dropout)
        self.intermediate = _Intermediate(c)
        self.output = _Dense(
            c["intermediate_size"], c["hidden_size"], eps, dropout.get(HIDDEN, 0.0)
        )

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, bias)
        result: torch.Tensor = self.output(self.intermediate(x), x)
        return result


class _Encoder(nn.Module):
    def __init__(self, c: Config, dropout: Mapping[str, float]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c, dropout) for _ in range(c["num_hidden_layers"]))


class Bert(nn.Module):
    """``forward(input_ids [batch, seq] int64, attention_mask [batch, seq] int64)`` ->
    last hidden states ``[batch, seq, hidden]`` float32. ``dropout``: the train-mode rates by
    config name (``hidden_dropout_prob``, ``attention_probs_dropout_prob``; absent: 0)."""

    def __init__(self, config: Config, dropout: Mapping[str, float] | None = None) -> None:
        super().__init__()
        rates = dropout or {}
        self.embeddings = _Embeddings(config, rates)
        self.encoder = _Encoder(config, rates)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x: torch.Tensor = self.embeddings(input_ids)
        bias = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(attention_mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x
