"""A model trained and saved here, as the real PyLate 1.6.0 loads it (spec/training.md R-TRAIN-3):
the golden SGD run of R-TRAIN-9 retrained, saved with ``save_pretrained``, and encoded by our
``Encoder``, against PyLate's embeddings of the same folder (committed by
spec/training/generate_saved_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import golden_sgd
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

import lateint_ref as li
from lateint_ref import training

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "spec" / "vectors" / "training"
ENCODER = ROOT / "spec" / "vectors" / "encoder"
# The golden weights were trained on another CPU; retrained here they differ by the float32
# rounding of 20 SGD steps (an Intel Xeon: up to 1.3e-4 in the embeddings), far below what a
# wrong saved layout gives (differences of order 1).
TOLERANCE = 5e-4

torch.set_num_threads(1)


def _trained(name: str) -> training.ColBERT:
    golden = json.loads((GOLDEN / f"golden-{name}.json").read_text())
    return golden_sgd.run(training.ColBERT.from_pretrained(ENCODER / name), golden)


@pytest.mark.spec("R-TRAIN-3")
@pytest.mark.parametrize("backend", ["torch", "numpy"])
@pytest.mark.parametrize("name", ["tiny-bert", "tiny-modernbert"])
def test_saved_model_encodes_as_pylate_loads_it(name: str, backend: str, tmp_path: Path) -> None:
    """R-TRAIN-3: PyLate's embeddings of the saved trained folder equal ours within 1e-5."""
    record = json.loads((GOLDEN / f"saved-{name}.json").read_text())
    want = load_file(str(GOLDEN / record["tensors_file"]))
    _trained(name).save_pretrained(tmp_path)
    enc = li.Encoder.from_pretrained(tmp_path, backend=backend)
    texts = record["texts"]
    checked = 0
    for kind, is_query in (("query", True), ("document", False)):
        got = enc.encode(texts, is_query=is_query, batch_size=2)
        for i, x in enumerate(got):
            ref = want[f"{kind}/{i}"]
            assert x.shape == ref.shape, (kind, i)
            assert np.abs(x - ref).max() <= TOLERANCE, (kind, i)
            checked += 1
    assert checked == 2 * len(texts)


@pytest.mark.spec("R-ENC-9")
def test_saved_folder_keeps_the_pooler(tmp_path: Path) -> None:
    """R-ENC-9: BERT's pooler, unused by the encoder, is written unchanged so that transformers
    initialises no weight anew when it loads the folder."""
    source = ENCODER / "tiny-bert" / "model.safetensors"
    training.ColBERT.from_pretrained(ENCODER / "tiny-bert").save_pretrained(tmp_path)
    li.Encoder.from_pretrained(ENCODER / "tiny-bert").save_pretrained(tmp_path / "enc")
    with safe_open(str(source), framework="numpy") as f:
        pooler = {k: f.get_tensor(k) for k in f.keys() if k.startswith("pooler.")}  # noqa: SIM118
    assert sorted(pooler) == ["pooler.dense.bias", "pooler.dense.weight"]
    for folder in (tmp_path, tmp_path / "enc"):
        saved = load_file(str(folder / "model.safetensors"))
        for k, v in pooler.items():
            assert np.array_equal(saved[k], v), (folder, k)
