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
