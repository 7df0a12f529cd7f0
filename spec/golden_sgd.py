"""The golden SGD run of spec/training.md R-TRAIN-9, in one place.

spec/training/generate_golden.py records PyLate 1.6.0's weights after ``sgd["steps"]`` plain SGD
steps (``sgd["lr"]``, no momentum, no weight decay) of Contrastive on the golden batch, in eval
mode. ``run(model, golden)`` makes the same steps on lateint-ref's ``training.ColBERT``: the SGD
test compares its weights with PyLate's, and the saved-model golden
(spec/training/generate_saved_golden.py, tests/test_training_saved.py) saves its result."""

from __future__ import annotations

from typing import Any


def run(model: Any, golden: dict[str, Any]) -> Any:
    """Trains ``model`` (a ``training.ColBERT``, set to eval mode) in place by the golden SGD
    run of ``golden`` (the content of golden-<model>.json) and returns it."""
    import torch

    from lateint_ref import training

    model.eval()
    sgd, batch = golden["sgd"], golden["batch"]
    optimizer = torch.optim.SGD(model.parameters(), lr=sgd["lr"])
    loss = training.Contrastive()
    for _ in range(sgd["steps"]):
        optimizer.zero_grad(set_to_none=True)
        loss(model, queries=batch["queries"], documents=batch["documents"]).backward()
        optimizer.step()
    return model
