"""In-batch negatives across processes (spec/training.md R-TRAIN-10): two CPU processes (gloo,
loopback), each with its shard of a batch, give the loss and the gradients of one process given
the whole batch, once averaged over the processes as DistributedDataParallel averages them."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lateint_ref import training

TINY = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
WORLD = 2
# Float32 tolerances (the sums run in another order, documents are padded to other widths).
# The loss and the whole gradient (all tensors as one vector): REL relative (measured: the loss
# bit-equal, the whole gradient 3e-7 to 5e-7). Each parameter tensor: TENSOR_REL relative
# (measured worst 1.4e-6, a LayerNorm bias); a tensor whose true gradient is 0 (attention key
# biases) holds rounding noise, so its norm is floored at FLOOR times the whole gradient's.
REL = 1e-6
TENSOR_REL = 5e-6
FLOOR = 1e-2

QUERIES = ["what is a cat", "rivers of europe", "how do planes fly", "the boiling point"]
DOCUMENTS = [
    ["cats are small domestic felines", "a dog"],
    ["the danube and the rhine flow through many countries of central europe", "rivers"],
    ["lift", "wings push air down and the aircraft up, as newton's third law says"],
    ["water boils at one hundred degrees", "ice melts at zero degrees celsius at sea level"],
]
# (name, loss, query shards): even shards, GradCache with one text per mini-batch, uneven shards.
CASES: list[tuple[str, str, list[range]]] = [
    ("contrastive", "contrastive", [range(0, 2), range(2, 4)]),
    ("cached", "cached", [range(0, 2), range(2, 4)]),
    ("uneven", "contrastive", [range(0, 3), range(3, 4)]),
]

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)


def _loss(kind: str) -> Any:
    if kind == "cached":
        return training.CachedContrastive(mini_batch_size=1, gather_across_devices=True)
    return training.Contrastive(gather_across_devices=True)


def _model() -> training.ColBERT:
    torch.manual_seed(0)
    model = training.ColBERT.from_pretrained(TINY)
    model.eval()
    return model


def _step(model: training.ColBERT, loss: Any, rows: range) -> tuple[torch.Tensor, dict]:
    model.zero_grad(set_to_none=True)
    value = loss(model, queries=[QUERIES[i] for i in rows], documents=[DOCUMENTS[i] for i in rows])
    value.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return value.detach(), grads


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        model = _model()
        results = {}
        for name, kind, shards in CASES:
            value, grads = _step(model, _loss(kind), shards[rank])
            local = value.clone()
            # What DistributedDataParallel does with the gradients, and the logged loss.
            for t in [value, *grads.values()]:
                dist.all_reduce(t)
                t /= WORLD
            results[name] = {"value": value, "local": local, "grads": grads}
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rel(got: torch.Tensor, want: torch.Tensor, floor: float = 0.0) -> float:
    scale = max(float(want.double().norm()), floor, 1e-30)
    return float((got.double() - want.double()).norm()) / scale


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.spec("R-TRAIN-10")
@pytest.mark.parametrize(("name", "kind", "shards"), CASES, ids=[c[0] for c in CASES])
def test_two_processes_equal_one_with_the_whole_batch(
    ranks: list[dict], name: str, kind: str, shards: list[range]
) -> None:
    """R-TRAIN-10: the mean over processes of the loss and of each gradient equals the loss and
    gradients of one process given every query, with every document as a negative."""
    torch.set_num_threads(1)
    want_value, want = _step(_model(), _loss(kind), range(len(QUERIES)))
    got = ranks[0][name]
    assert _rel(got["value"], want_value) <= REL, (float(got["value"]), float(want_value))
    assert set(got["grads"]) == set(want)
    total = float(torch.sqrt(sum(g.double().norm() ** 2 for g in want.values())))
    diff = sum((got["grads"][n].double() - g.double()).norm() ** 2 for n, g in want.items())
    assert float(torch.sqrt(diff)) <= REL * total
    errors = {n: _rel(got["grads"][n], g, FLOOR * total) for n, g in want.items()}
    worst = max(errors, key=errors.__getitem__)
    assert errors[worst] <= TENSOR_REL, (worst, errors[worst])
    # Every process reduced to the same values; each one's own loss is its queries' share.
    for n, g in ranks[1][name]["grads"].items():
        assert torch.equal(g, got["grads"][n]), n
    local = [float(r[name]["local"]) for r in ranks]
    assert abs(sum(local) / WORLD - float(want_value)) <= REL * float(want_value)
    if len(shards[0]) != len(shards[1]):
        assert local[0] != local[1]


@pytest.mark.spec("R-TRAIN-10")
@pytest.mark.parametrize("kind", ["contrastive", "cached"])
def test_one_process_gathers_nothing(kind: str) -> None:
    """R-TRAIN-10: without torch.distributed initialised, gather_across_devices=True is the plain
    loss, bit for bit."""
    assert not dist.is_initialized()
    torch.set_num_threads(1)
    plain = (
        training.CachedContrastive(mini_batch_size=1)
        if kind == "cached"
        else training.Contrastive()
    )
    model = _model()
    value, grads = _step(model, _loss(kind), range(3))
    want_value, want = _step(model, plain, range(3))
    assert torch.equal(value, want_value)
    assert set(grads) == set(want)
    for n, g in want.items():
        assert torch.equal(grads[n], g), n


@pytest.mark.spec("R-TRAIN-8")
def test_gather_across_devices_is_a_flag() -> None:
    """R-TRAIN-8: gather_across_devices is true or false."""
    for cls in (training.Contrastive, training.CachedContrastive):
        with pytest.raises(ValueError, match="R-TRAIN-8"):
            cls(gather_across_devices=1)
