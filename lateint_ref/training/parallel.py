"""``fit`` across the processes of ``torch.distributed`` (spec/trainer.md R-FIT-12, R-FIT-13):
each process takes a contiguous shard of every global batch, the gradients are summed over the
processes by ``all_reduce`` (by hand, not DistributedDataParallel), and process 0 alone writes,
evaluates and tells the others what it found. One process (torch.distributed not initialised, or
a world of 1) is the plain loop: every method here is then a no-op or calls its argument.

Nothing here assumes a backend (gloo, nccl) or a device: the tensors of every collective are
created on the model's device."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from lateint_ref.errors import InputError, LateIntError
from lateint_ref.training import distributed

BUCKET = 1 << 24  # elements of one gradient all_reduce (64 MiB of float32)


@dataclass(frozen=True)
class Group:
    """This process's ``rank`` among ``world`` processes, and the ``device`` of its model."""

    rank: int
    world: int
    device: torch.device

    @classmethod
    def current(cls, device: torch.device) -> Group:
        """The default process group of torch.distributed, or ``(0, 1)`` without one."""
        rank, world = distributed.world()
        return cls(rank, world, device)

    @property
    def first(self) -> bool:
        """Process 0: the one that writes files and evaluates (R-FIT-13)."""
        return self.rank == 0

    # ------------------------------------------------------------------------- before step one

    def check_batches(self, n: int, batch_size: int, drop_last: bool) -> None:
        """R-FIT-12: every batch must give every process at least one example: ``batch_size``
        and, without ``drop_last``, a shorter last batch of ``n mod batch_size`` examples."""
        if self.world == 1:
            return
        if batch_size < self.world:
            raise InputError(
                f"R-FIT-12: batch_size {batch_size} < {self.world} processes: every process "
                "needs at least one example of every batch (batch_size is the global batch)"
            )
        last = n % batch_size
        if not drop_last and 0 < last < self.world:
            raise InputError(
                f"R-FIT-12: the last batch of each epoch holds {last} examples ({n} examples in "
                f"batches of {batch_size}), fewer than the {self.world} processes; pass "
                "drop_last=True or another batch_size"
            )

    def check_same(self, settings: dict[str, Any], examples: Iterable[Any]) -> None:
        """R-FIT-12: every process must be given the same settings and examples (a digest of
        them is all-gathered); every process raises together otherwise."""
        if self.world == 1:
            return
        digest = hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=7)
        for example in examples:
            digest.update(repr(example).encode("utf-8", "surrogatepass"))
        values = self.gather_integer(int.from_bytes(digest.digest(), "little"))
        differ = [r for r, v in enumerate(values) if v != values[0]]
        if differ:
            raise InputError(
                f"R-FIT-12: every process must be given the same arguments and data: processes "
                f"{differ} differ from process 0"
            )

    def gather_integer(self, value: int) -> list[int]:
        """``value`` of every process, in rank order (one all_gather)."""
        if self.world == 1:
            return [value]
        mine = torch.tensor([value], dtype=torch.int64, device=self.device)
        parts = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(parts, mine)
        return [int(p[0]) for p in parts]

    def broadcast_model(self, model: torch.nn.Module) -> None:
        """R-FIT-12: process 0's parameters and buffers on every process, before step one."""
        if self.world == 1:
            return
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                if tensor.dtype == torch.bool:  # not every backend sends bool
                    wire = tensor.data.to(torch.uint8)
                    dist.broadcast(wire, src=0)
                    tensor.data.copy_(wire.bool())
                else:
                    dist.broadcast(tensor.data, src=0)

    # ------------------------------------------------------------------------- each step

    def shard(self, batch: Sequence[int]) -> list[int]:
        """R-FIT-12: this process's contiguous slice of a global batch of ``B`` examples: the
        first ``B mod W`` processes take ``ceil(B / W)``, the others ``floor(B / W)``."""
        if self.world == 1:
            return list(batch)
        size, extra = divmod(len(batch), self.world)
        start = self.rank * size + min(self.rank, extra)
        return list(batch[start : start + size + (1 if self.rank < extra else 0)])

    def weight(self, gathers: bool, part: int, whole: int) -> float:
        """R-FIT-12: the factor of this process's loss in the step's loss: ``1 / W`` for a loss
        that gathers the documents of every process (R-TRAIN-10: its value is already scaled by
        ``W / B``), else ``B_r / B``, the share of this process's queries."""
        if self.world == 1:
            return 1.0
        return 1.0 / self.world if gathers else part / whole

    def reduce(self, params: Sequence[torch.nn.Parameter], value: torch.Tensor) -> float:
        """R-FIT-12: after every process backpropagated ``value`` (its weighted loss), the sum
        over processes of the values (returned) and of the gradients (in place, so that every
        process holds the same ones): one all_reduce of the values and of which parameters have
        a gradient, then one per bucket of gradients. A parameter that has a gradient on some
        process gets a zero one on the others; one that has none anywhere keeps none."""
        if self.world == 1:
            return float(value)
        head = torch.cat(
            [
                value.detach().float().reshape(1).to(self.device),
                torch.tensor(
                    [p.grad is not None for p in params], dtype=torch.float32, device=self.device
                ),
            ]
        )
        dist.all_reduce(head)  # SUM
        grads = []
        for p, seen in zip(params, head[1:].tolist(), strict=True):
            if seen > 0:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
        for bucket in _buckets(grads):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            dist.all_reduce(flat)  # SUM
            offset = 0
            for g in bucket:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        return float(head[0])

    # ------------------------------------------------------------------------- process 0

    def on_first(self, compute: Callable[[], Sequence[float] | None], size: int = 0) -> list[float]:
        """R-FIT-13: ``compute()`` (``size`` floats) runs on process 0 only; every process
        returns its values (one broadcast, which every other process waits for). If it raises
        on process 0, it re-raises there and every other process raises ``LateIntError``."""
        if self.world == 1:
            return [float(x) for x in compute() or ()]
        values = torch.zeros(size + 1, dtype=torch.float64, device=self.device)
        error: BaseException | None = None
        if self.first:
            try:
                got = [float(x) for x in compute() or ()]
                values[1:] = torch.tensor(got, dtype=torch.float64)
            except BaseException as exc:
                error = exc
                values[0] = 1.0
        dist.broadcast(values, src=0)
        if error is not None:
            raise error
        if values[0] != 0:
            raise LateIntError(
                f"R-FIT-13: process 0 failed (its error is on its stderr); process {self.rank} "
                "stops with it"
            )
        return [float(x) for x in values[1:].tolist()]


@contextlib.contextmanager
def launched(device: torch.device) -> Iterator[Group]:
    """spec/cli.md R-CLI-14: under a launcher that sets ``WORLD_SIZE`` > 1, ``RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT`` (``torchrun``), with no process group initialised yet:
    initialises it (``env://``; nccl for a model on CUDA, else gloo), yields this process's
    ``Group`` and destroys the group at the end. Otherwise yields the current group and
    changes nothing."""
    env = os.environ
    if "WORLD_SIZE" not in env or (dist.is_available() and dist.is_initialized()):
        yield Group.current(device)
        return
    try:
        world, rank = int(env["WORLD_SIZE"]), int(env.get("RANK", ""))
    except ValueError:
        raise InputError(
            f"R-CLI-14: WORLD_SIZE {env['WORLD_SIZE']!r} and RANK {env.get('RANK')!r} must be "
            "integers, 0 <= RANK < WORLD_SIZE"
        ) from None
    if world <= 1:
        yield Group.current(device)
        return
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not env.get(k)]
    if not 0 <= rank < world or missing or not dist.is_available():
        raise InputError(
            f"R-CLI-14: a launch in {world} processes needs 0 <= RANK < WORLD_SIZE (RANK "
            f"{rank}), MASTER_ADDR and MASTER_PORT (missing: {missing}) and torch.distributed"
        )
    backend = "nccl" if device.type == "cuda" and dist.is_nccl_available() else "gloo"
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world)
    try:
        yield Group.current(device)
    finally:
        dist.destroy_process_group()


def _buckets(grads: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Consecutive gradients of one dtype, at most ``BUCKET`` elements together (a larger
    tensor alone)."""
    out: list[list[torch.Tensor]] = []
    size = 0
    for g in grads:
        if out and out[-1][0].dtype == g.dtype and size + g.numel() <= BUCKET:
            out[-1].append(g)
            size += g.numel()
        else:
            out.append([g])
            size = g.numel()
    return out
