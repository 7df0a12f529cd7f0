"""The PyTorch building blocks the torch backbones share; names as in ``numpy_ops``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# Each hidden activation of a config.json, by name (the same names as numpy_ops.ACTIVATIONS).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": lambda x: nn.functional.gelu(x),
    "gelu_python": lambda x: nn.functional.gelu(x),
    "gelu_new": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "silu": nn.functional.silu,
    "swish": nn.functional.silu,
    "relu": nn.functional.relu,
}


class Dropout(nn.Dropout):
    """``nn.Dropout`` that is skipped outright unless the module trains with ``p > 0``
    (spec/training.md R-TRAIN-11): in eval mode, or at rate 0, ``forward`` returns its input
    itself, without a tensor operation, so that eval mode computes what the network without any
    dropout computes, bit for bit and at the same speed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [...]`` -> ``x``, or in train mode each element zeroed with probability ``p``
        and the others scaled by ``1 / (1 - p)`` (torch's global generator)."""
        if not (self.training and self.p > 0):
            return x
        result: torch.Tensor = super().forward(x)
        return result


def attention_dropout(weights: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``weights: [batch, heads, seq, seq]`` attention probabilities, dropped out at rate ``p``
    in train mode (as ``Dropout``), returned as they are otherwise."""
    if not (training and p > 0):
        return weights
    return nn.functional.dropout(weights, p=p, training=True)
