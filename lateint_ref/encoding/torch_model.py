"""The PyTorch late-interaction network: a backbone of ``backbones/`` followed by the Dense
projections, ``[batch, seq] int64 -> [batch, seq, dim] f32`` before any normalisation.

One module for both users: the encoder's torch backend runs it under ``inference_mode`` (and
optionally bfloat16 autocast), and ``training.ColBERT`` is this module with gradients. Its
parameter names are ``backbone.<the checkpoint's names>`` and ``projections.<i>.linear.weight``
(``.bias``, ``.residual.weight``), as PyLate's ``Dense`` names them. The backbone applies dropout
in train mode at the rates it is given (spec/training.md R-TRAIN-11; the encoder gives none, and
eval mode never applies any); the projections have none, as PyLate's ``Dense``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from lateint_ref.encoding.architectures import Architecture
from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.folder import Projection


class Dense(nn.Module):
    """One projection: ``y = linear(x) (+ x or residual(x) when use_residual)``."""

    def __init__(self, p: Projection) -> None:
        super().__init__()
        out_features, in_features = p.weight.shape
        self.linear = nn.Linear(in_features, out_features, bias=p.bias is not None)
        self.residual = (
            None if p.residual is None else nn.Linear(in_features, out_features, bias=False)
        )
        self.use_residual = p.use_residual
        with torch.no_grad():
            # The description's arrays are read-only: torch gets its own copy.
            self.linear.weight.copy_(torch.from_numpy(p.weight.copy()))
            if self.linear.bias is not None and p.bias is not None:
                self.linear.bias.copy_(torch.from_numpy(p.bias.copy()))
            if self.residual is not None and p.residual is not None:
                self.residual.weight.copy_(torch.from_numpy(p.residual.copy()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [batch, seq, in] -> [batch, seq, out]``."""
        y: torch.Tensor = self.linear(x)
        if self.use_residual:
            y = y + (x if self.residual is None else self.residual(x))
        return y

    def projection(self) -> Projection:
        """The current weights as a read-only description (float32 copies)."""

        def array(t: torch.Tensor | None) -> np.ndarray | None:
            if t is None:
                return None
            a: np.ndarray = t.detach().cpu().float().numpy().copy()
            a.flags.writeable = False
            return a

        weight = array(self.linear.weight)
        assert weight is not None  # a Linear always has a weight
        return Projection(
            weight,
            array(self.linear.bias),
            None if self.residual is None else array(self.residual.weight),
            self.use_residual,
        )


class LateInteraction(nn.Module):
    """``backbone`` (``arch``'s torch module, loaded strictly from ``tensors``) then
    ``projections`` in order; ``dropout``: the backbone's train-mode rates by config name
    (``Architecture.dropout_rates``; None: no dropout)."""

    def __init__(
        self,
        arch: Architecture,
        config: Config,
        tensors: dict[str, np.ndarray],
        projections: tuple[Projection, ...],
        dropout: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.backbone: nn.Module = arch.torch_class()(config, dropout)
        # Copies: the arrays may be read-only (or shared with the caller).
        self.backbone.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
        self.projections = nn.ModuleList(Dense(p) for p in projections)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``input_ids, attention_mask: [batch, seq] int64`` -> ``[batch, seq, dim]`` float32
        (each stage's output is made float32, which matters under bfloat16 autocast only)."""
        x: torch.Tensor = self.backbone(input_ids, attention_mask).float()
        for p in self.projections:
            x = p(x).float()
        return x

    def backbone_tensors(self) -> dict[str, np.ndarray]:
        """The backbone's weights, float32 copies, named as in its checkpoint."""
        return {k: v.detach().cpu().float().numpy() for k, v in self.backbone.state_dict().items()}

    def projection_values(self) -> tuple[Projection, ...]:
        """The projections' current weights."""
        return tuple(p.projection() for p in self.projections if isinstance(p, Dense))
