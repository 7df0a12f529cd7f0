"""The trainer's TensorBoard scalars (spec/trainer.md R-FIT-14) on the tiny seeded BERT: a fake
``SummaryWriter`` injected in place of torch's records what ``fit`` writes (so that these tests
run without the ``tensorboard`` package), and, when it is installed, a real run writes an events
file under ``output_dir/runs/``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from lateint_ref import training
from lateint_ref.errors import InputError
from lateint_ref.training import board
from lateint_ref.training.data import read_triplets
from lateint_ref.training.trainer import fit

pytestmark = pytest.mark.spec("R-FIT-14")

MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
TOPICS = ["cats", "dogs", "rust", "tea", "bread", "ocean", "jazz", "chess"]
TRIPLETS = [
    {"query": t, "positive": f"a page about {t}", "negative": f"a page about {TOPICS[i - 1]}"}
    for i, t in enumerate(TOPICS)
]
DEV = (
    {f"d{i}": f"a page about {t}" for i, t in enumerate(TOPICS)},
    {f"q{i}": t for i, t in enumerate(TOPICS)},
    {f"q{i}": {f"d{i}": 1} for i in range(len(TOPICS))},
)
# 8 triplets in batches of 4: 2 steps an epoch, 2 epochs.
SETTINGS: dict[str, Any] = {"batch_size": 4, "lr": 1e-3, "warmup": 1, "seed": 3, "epochs": 2}

torch.set_num_threads(1)


class FakeWriter:
    """Records the constructor's arguments and every call, as torch's SummaryWriter takes them."""

    made: ClassVar[list[FakeWriter]] = []

    def __init__(self, log_dir: str, purge_step: int) -> None:
        self.log_dir, self.purge_step = log_dir, purge_step
        self.scalars: list[tuple[str, float, int]] = []
        self.flushes = 0
        self.closed = False
        FakeWriter.made.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        assert not self.closed
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def triplets(tmp_path: Path) -> Any:
    path = tmp_path / "triplets.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TRIPLETS))
    return read_triplets(path)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeWriter]:
    FakeWriter.made = []
    monkeypatch.setattr(board, "_summary_writer", lambda: FakeWriter)
    return FakeWriter


def _model() -> training.ColBERT:
    return training.ColBERT.from_pretrained(MODEL)


def test_scalars_per_step_and_per_epoch(
    triplets: Any, tmp_path: Path, fake: type[FakeWriter]
) -> None:
    """R-FIT-14: by default (tensorboard=None, the package importable, an output_dir) the loss
    and learning rate of every step, and each epoch's mean loss and dev nDCG@10, at the step
    they belong to, in output_dir/runs/; the writer is flushed per epoch and closed."""
    out = tmp_path / "out"
    result = fit(_model(), training.Contrastive(), triplets, output_dir=out, dev=DEV, **SETTINGS)
    (writer,) = fake.made
    assert writer.log_dir == str(out / "runs")
    assert writer.purge_step == 0
    assert writer.closed
    assert writer.flushes == 3  # epochs 0, 1 and 2
    by_tag: dict[str, list[tuple[int, float]]] = {}
    for tag, value, step in writer.scalars:
        by_tag.setdefault(tag, []).append((step, value))
    assert set(by_tag) == {"train/loss", "train/lr", "epoch/loss", "dev/ndcg@10"}
    assert by_tag["train/loss"] == list(enumerate(result.losses, start=1))
    # The rate each step used: warmup of 1 step (0), then linear decay over the 3 others.
    assert by_tag["train/lr"] == [
        (1, 0.0),
        (2, 1e-3),
        (3, pytest.approx(2e-3 / 3)),
        (4, pytest.approx(1e-3 / 3)),
    ]
    epochs = [r for r in result.history if r["epoch"] >= 1]
    assert by_tag["epoch/loss"] == [(r["step"], r["loss"]) for r in epochs]
    assert by_tag["dev/ndcg@10"] == [(r["step"], r["ndcg@10"]) for r in result.history]
    assert [s for s, _ in by_tag["dev/ndcg@10"]] == [0, 2, 4]


def test_resumed_run_purges_the_killed_runs_later_events(
    triplets: Any, tmp_path: Path, fake: type[FakeWriter]
) -> None:
    """R-FIT-14: a resumed run opens its writer with purge_step = the checkpoint's step + 1,
    so that TensorBoard hides what the stopped run logged after its checkpoint."""
    out = tmp_path / "out"
    fit(_model(), training.Contrastive(), triplets, output_dir=out, **SETTINGS)
    fit(
        _model(),
        training.Contrastive(),
        triplets,
        output_dir=out,
        checkpoint_every=3,
        resume=False,
        **SETTINGS,
    )
    resumed = fit(
        _model(), training.Contrastive(), triplets, output_dir=out, checkpoint_every=3, **SETTINGS
    )
    assert resumed.resumed_from == out / "checkpoint-3"
    first, fresh, again = fake.made
    assert (first.purge_step, fresh.purge_step, again.purge_step) == (0, 0, 4)
    assert [(t, s) for t, _, s in again.scalars if t == "train/loss"] == [("train/loss", 4)]


def test_tensorboard_argument(
    triplets: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: type[FakeWriter]
) -> None:
    """R-FIT-14: False writes nothing, nor does None without an output_dir; True needs an
    output_dir and the package; anything but None, True and False is refused before step one."""
    fit(
        _model(), training.Contrastive(), triplets, tensorboard=False, output_dir=tmp_path, epochs=1
    )
    fit(_model(), training.Contrastive(), triplets, epochs=1)
    assert fake.made == []
    with pytest.raises(InputError, match="R-FIT-14: tensorboard=True needs an output_dir"):
        fit(_model(), training.Contrastive(), triplets, tensorboard=True)
    with pytest.raises(InputError, match="R-FIT-14: tensorboard must be None, True or False"):
        fit(_model(), training.Contrastive(), triplets, tensorboard=1)  # type: ignore[arg-type]
    monkeypatch.setattr(board, "_summary_writer", lambda: None)
    with pytest.raises(InputError, match="R-FIT-14: tensorboard=True needs the tensorboard"):
        fit(_model(), training.Contrastive(), triplets, tensorboard=True, output_dir=tmp_path)
    fit(_model(), training.Contrastive(), triplets, output_dir=tmp_path / "none", epochs=1)
    assert not (tmp_path / "none" / "runs").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="the tensorboard package is not installed",
)
def test_real_summary_writer_writes_events(triplets: Any, tmp_path: Path) -> None:
    """R-FIT-14: with tensorboard installed, tensorboard=True writes an events file that
    TensorBoard's reader reads back with every step's loss."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = fit(
        _model(),
        training.Contrastive(),
        triplets,
        output_dir=tmp_path,
        tensorboard=True,
        **SETTINGS,
    )
    events = list((tmp_path / "runs").glob("events.out.tfevents.*"))
    assert events
    reader = EventAccumulator(str(tmp_path / "runs"))
    reader.Reload()
    losses = reader.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2, 3, 4]
    assert [e.value for e in losses] == pytest.approx(result.losses, rel=1e-6)
