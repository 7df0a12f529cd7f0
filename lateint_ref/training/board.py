"""The trainer's TensorBoard scalars (spec/trainer.md R-FIT-14), written by process 0 under
``output_dir/runs/`` with torch's ``SummaryWriter`` when the ``tensorboard`` package is installed
(it is not a dependency of lateint-ref)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lateint_ref.errors import InputError

RUNS = "runs"
# Tags: per step (x = the step number, 1-based), per epoch (x = the step the epoch ended on).
STEP_LOSS, STEP_LR = "train/loss", "train/lr"
EPOCH_LOSS, EPOCH_NDCG = "epoch/loss", "dev/ndcg@10"


def _summary_writer() -> Any | None:
    """torch's ``SummaryWriter`` class, or None when ``tensorboard`` is not importable."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter


def wanted(setting: Any, output_dir: Path | None) -> Any | None:
    """R-FIT-14: the writer class to use, or None. ``setting`` None: when ``tensorboard`` is
    installed and there is an ``output_dir``; True: both are required (``InputError``
    otherwise); False: never."""
    if setting is not None and not isinstance(setting, bool):
        raise InputError(f"R-FIT-14: tensorboard must be None, True or False, got {setting!r}")
    if setting is False:
        return None
    if output_dir is None:
        if setting:
            raise InputError("R-FIT-14: tensorboard=True needs an output_dir")
        return None
    writer = _summary_writer()
    if writer is None and setting:
        raise InputError(
            "R-FIT-14: tensorboard=True needs the tensorboard package (pip install tensorboard)"
        )
    return writer


class Board:
    """Scalars of one run in ``output_dir/runs/``. ``purge_step``: a resumed run hides the
    events the killed run wrote at or after it (SummaryWriter's ``purge_step``)."""

    def __init__(self, writer_class: Any, output_dir: Path, purge_step: int) -> None:
        self.writer = writer_class(log_dir=str(output_dir / RUNS), purge_step=purge_step)

    def step(self, step: int, loss: float, lr: float) -> None:
        """Step ``step`` (1-based): its loss and the learning rate it used."""
        self.writer.add_scalar(STEP_LOSS, loss, step)
        self.writer.add_scalar(STEP_LR, lr, step)

    def epoch(self, record: dict[str, Any]) -> None:
        """An epoch record of R-FIT-8: its mean loss (not for epoch 0) and dev nDCG@10."""
        if record["loss"] is not None:
            self.writer.add_scalar(EPOCH_LOSS, record["loss"], record["step"])
        if "ndcg@10" in record:
            self.writer.add_scalar(EPOCH_NDCG, record["ndcg@10"], record["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
