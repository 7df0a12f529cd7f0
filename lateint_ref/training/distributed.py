"""Documents gathered across the processes of ``torch.distributed`` for in-batch negatives
(spec/training.md R-TRAIN-10): each process scores its own queries against the documents of
every process, and the gradient of a gathered document flows back to the process that embedded
it. Nothing here assumes a backend (gloo, nccl) or a device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from lateint_ref.errors import InputError


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group; ``(0, 1)`` when torch.distributed is
    unavailable or not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@dataclass(frozen=True)
class Layout:
    """Where each process's documents lie in the gathered tensors: ``rows[r]`` documents of
    ``widths[r]`` token rows from process ``r``, the same ``n`` documents per query everywhere;
    the gathered tensors have ``sum(rows)`` rows of ``max(widths)`` token rows."""

    rank: int
    rows: tuple[int, ...]
    widths: tuple[int, ...]
    n: int

    @property
    def start(self) -> int:
        """The first gathered row of this process's documents."""
        return sum(self.rows[: self.rank])

    @property
    def first_query(self) -> int:
        """The global index of this process's first query: the label offset (R-TRAIN-10)."""
        return self.start // self.n

    @property
    def queries(self) -> int:
        """The number of queries of all processes together."""
        return sum(self.rows) // self.n


def layout(documents: torch.Tensor, n: int) -> Layout:
    """``documents: [rows, width, dim]`` of this process, ``n`` documents per query -> every
    process's shape (one all_gather of three integers). R-TRAIN-10: every process MUST use the
    same ``n``; the check runs on the gathered values, so every process raises together."""
    rank, size = world()
    mine = torch.tensor(
        [documents.shape[0], documents.shape[1], n], dtype=torch.int64, device=documents.device
    )
    shapes = [torch.empty_like(mine) for _ in range(size)]
    dist.all_gather(shapes, mine)
    rows, widths, ns = (tuple(int(s[i]) for s in shapes) for i in range(3))
    if len(set(ns)) != 1:
        raise InputError(
            f"R-TRAIN-10: every process needs the same number of documents per query, got {ns}"
        )
    return Layout(rank, rows, widths, n)


def gather(x: torch.Tensor, shape: Layout) -> torch.Tensor:
    """``x: [rows, width, ...]`` of this process (any dtype) -> ``[sum(rows), max(widths), ...]``,
    process ``r``'s rows at ``sum(rows[:r])``, each padded with zeros to the widest. No
    gradient."""
    most_rows, widest = max(shape.rows), max(shape.widths)
    pad = [0, 0] * (x.dim() - 2) + [0, widest - x.shape[1], 0, most_rows - x.shape[0]]
    wire = x.to(torch.uint8) if x.dtype == torch.bool else x  # not every backend sends bool
    padded = F.pad(wire.detach(), pad).contiguous()
    parts = [torch.empty_like(padded) for _ in shape.rows]
    dist.all_gather(parts, padded)
    out = torch.cat([p[:r] for p, r in zip(parts, shape.rows, strict=True)])
    return out.to(x.dtype)


def local_gradient(grad: torch.Tensor, shape: Layout) -> torch.Tensor:
    """``grad: [sum(rows), max(widths), ...]``, this process's gradient of its loss with respect
    to the gathered documents -> ``[rows, width, ...]``, the sum over all processes of their
    gradients with respect to this process's documents (one all_reduce)."""
    total = grad.contiguous().clone()
    dist.all_reduce(total)  # SUM
    start = shape.start
    return total[start : start + shape.rows[shape.rank], : shape.widths[shape.rank]]


class _Gather(torch.autograd.Function):
    """``gather`` whose backward is ``local_gradient``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, shape: Layout) -> torch.Tensor:
        ctx.shape = shape
        return gather(x, shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return local_gradient(grad, ctx.shape), None


def gather_with_gradient(x: torch.Tensor, shape: Layout) -> torch.Tensor:
    """``gather`` through which the gradient flows back to this process's ``x``. Every process
    MUST run the backward pass (its all_reduce is collective), as under DistributedDataParallel."""
    out: torch.Tensor = _Gather.apply(x, shape)
    return out
