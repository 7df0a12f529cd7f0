"""The README's Python example runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert blocks, "README has no python example"
    assert len(blocks[0].strip().splitlines()) <= 5
    namespace: dict = {"print": lambda *args: None}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    ids, scores = namespace["ids"], namespace["scores"]
    assert ids.shape == scores.shape == (1, 2)
    assert scores[0, 0] >= scores[0, 1]


def test_readme_index_example_runs(tmp_path, monkeypatch) -> None:
    """The Index section's example runs as printed, with its inputs defined here."""
    import numpy as np

    block = next(
        b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL) if "Index" in b
    )
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    namespace: dict = {
        "li": __import__("lateint_ref"),
        "docs": [rng.standard_normal((n, 16)).astype(np.float32) for n in (5, 9, 7, 12)],
        "doc_ids": ["a", "b", "c", "d"],
        "queries": [rng.standard_normal((4, 16)).astype(np.float32)],
        "print": lambda *args: None,
    }
    exec(compile(block, str(README), "exec"), namespace)
    hits = namespace["hits"]
    assert len(hits) == 1
    assert set(hits[0].ids) <= {"a", "b", "c", "d"}
    assert list(hits[0].scores) == sorted(hits[0].scores, reverse=True)


def test_readme_training_example_runs(tmp_path, monkeypatch) -> None:
    """The Training section's example runs as printed (a tiny backbone stands for MiniLM), its
    loss has gradients and its saved folder loads in the Encoder."""
    import json

    import lateint_ref as li

    block = next(
        b
        for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
        if "training" in b
    )
    monkeypatch.chdir(tmp_path)
    rows = [{"query": "q", "positive": "p", "negative": "n"}]
    (tmp_path / "triplets.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tiny = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
    namespace: dict = {"minilm_dir": tiny, "print": lambda *args: None}
    exec(compile(block, str(README), "exec"), namespace)
    assert float(namespace["value"].detach()) > 0
    assert any(p.grad is not None for p in namespace["model"].parameters())
    assert len(namespace["triplets"]) == 1
    assert li.Encoder.from_pretrained(tmp_path / "out", backend="numpy").embedding_size == 128
