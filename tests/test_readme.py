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
