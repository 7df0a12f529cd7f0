"""Tokenization has no shared mutable state (R-ENC-4, R-ENC-12): each purpose (queries, documents)
has its own tokenizer, configured once when the encoder is built, so that threads encoding
queries and documents at once get exactly what they get one after another."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

import lateint_ref as li

TINY = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
WORDS = ["aircraft", "wing", "model", "protein", "cell", "cancer", "drug", "heated", "speed"]


def _texts(seed: int, n: int, words: int) -> list[str]:
    """``n`` seeded texts of about ``words`` words, longer than the tiny model's lengths (8, 24),
    so that the query and document truncations give different tokens."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=words + int(rng.integers(0, 20)))) for _ in range(n)]


def _states(tokens: object) -> dict[str, tuple[str, str]]:
    """The truncation and padding of every ``tokenizers.Tokenizer`` the object holds."""
    return {
        name: (json.dumps(t.truncation, sort_keys=True), json.dumps(t.padding, sort_keys=True))
        for name, t in vars(tokens).items()
        if isinstance(t, Tokenizer)
    }


@pytest.mark.spec("R-ENC-4")
def test_tokenizing_never_changes_tokenizer_settings(tmp_path: Path) -> None:
    """R-ENC-4: queries, then documents, then queries, then a save: no tokenizer the encoder holds
    changes its truncation or padding (they are set once, per purpose, at construction)."""
    enc = li.Encoder.from_pretrained(TINY, backend="numpy")
    before = _states(enc.tokens)
    assert before, "the encoder holds no tokenizers.Tokenizer"
    queries, documents = _texts(1, 3, 30), _texts(2, 3, 60)
    first = enc.tokenize(queries, is_query=True)
    assert _states(enc.tokens) == before
    enc.tokenize(documents, is_query=False)
    assert _states(enc.tokens) == before
    again = enc.tokenize(queries, is_query=True)
    assert _states(enc.tokens) == before
    enc.save_pretrained(tmp_path)
    assert _states(enc.tokens) == before
    np.testing.assert_array_equal(first[0], again[0])
    saved = json.loads((tmp_path / "tokenizer.json").read_text())
    assert saved["truncation"] is None
    assert saved["padding"] is None


@pytest.mark.spec("R-ENC-12")
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_concurrent_encoding_equals_sequential(backend: str) -> None:
    """R-ENC-12: many threads tokenizing and encoding long queries and long documents at once give
    exactly (bit for bit) the sequential results."""
    enc = li.Encoder.from_pretrained(TINY, backend=backend)
    jobs = [(_texts(10 + n, 24, 40 if n % 2 else 150), n % 2 == 1) for n in range(24)]

    def run(job: tuple[list[str], bool]) -> tuple[np.ndarray, list[np.ndarray]]:
        texts, is_query = job
        ids, _ = enc.tokenize(texts, is_query=is_query)
        return ids, enc.encode(texts, is_query=is_query, batch_size=8)

    want = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(run, jobs * 3))
    for (want_ids, want_emb), (got_ids, got_emb) in zip(want * 3, got, strict=True):
        np.testing.assert_array_equal(got_ids, want_ids)
        assert len(got_emb) == len(want_emb)
        for g, w in zip(got_emb, want_emb, strict=True):
            np.testing.assert_array_equal(g, w)
