"""Every code block of README.md runs as printed, from a working folder that has the repository's
`examples/` (the bundled Cranfield collection) and nothing else.

- ```python blocks are exec'd verbatim, with `print` captured, in a fresh namespace;
- ```bash blocks run in bash with `set -eu` (not pipefail: `gunzip | head` is as a user runs
  it): `.venv/bin/lateint` is this Python's `-m lateint_ref` (the package under test) and
  `.venv/bin/X` this Python's environment's `X`.
  Lines that run `make` or `pip install` are left out (they build and install the project this
  test is already running in); a block left empty by that is skipped, with that reason;
- a plain ``` block is printed output, not run.

`CHECKS` names every block in README order: a block added without an entry here fails
`test_every_block_is_checked`, and every block found runs in `test_block_runs_as_printed`
whether or not it has further checks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


@dataclass
class Block:
    id: str
    lang: str
    text: str
    line: int


@dataclass
class Ran:
    """What a block left behind: its namespace (python), its printed output, its folder."""

    cwd: Path
    output: str
    namespace: dict[str, Any] = field(default_factory=dict)


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def readme_blocks() -> list[Block]:
    """The fenced blocks of README.md, each named after its `## ` section and its rank there."""
    blocks: list[Block] = []
    section, rank, lines = "top", 0, README.read_text().splitlines()
    n = 0
    while n < len(lines):
        line = lines[n]
        if line.startswith("## "):
            section, rank = _slug(line[3:]), 0
        elif line.startswith("```"):
            end = next(i for i in range(n + 1, len(lines)) if lines[i].startswith("```"))
            rank += 1
            text = "\n".join(lines[n + 1 : end]) + "\n"
            blocks.append(Block(f"{section}-{rank}", line[3:].strip(), text, n + 2))
            n = end
        n += 1
    return blocks


BLOCKS = readme_blocks()
SKIPPED_COMMAND = re.compile(r"^\s*(make\b|pip install\b|\S*python\S* -m pip install\b)")


def _run_python(block: Block, cwd: Path) -> Ran:
    printed: list[str] = []

    def capture(*args: object, sep: str = " ", end: str = "\n", **_: object) -> None:
        printed.append(sep.join(str(a) for a in args) + end)

    # The five-line example draws from NumPy's global generator, as a reader's session would.
    np.random.seed(0)  # noqa: NPY002
    namespace: dict[str, Any] = {"__name__": "__readme__", "print": capture}
    code = compile("\n" * (block.line - 1) + block.text, str(README), "exec")
    exec(code, namespace)
    return Ran(cwd, "".join(printed), namespace)


def _command(match: re.Match[str]) -> str:
    """`.venv/bin/NAME` in a README command as this test's environment runs it."""
    if match[1] == "lateint":
        return f'"{sys.executable}" -m lateint_ref'
    return f'"{Path(sys.executable).parent / match[1]}"'


def _run_bash(block: Block, cwd: Path) -> Ran:
    kept = [line for line in block.text.splitlines() if not SKIPPED_COMMAND.match(line)]
    if not any(line.strip() for line in kept):
        pytest.skip(f"README line {block.line}: only `make` / `pip install` lines, not run here")
    script = re.sub(r"\.venv/bin/(\S+)", _command, "\n".join(kept))
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    }
    done = subprocess.run(
        ["bash", "-eu", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"README line {block.line}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), f"README line {block.line} printed nothing"
    return Ran(cwd, done.stdout + done.stderr)


def _sorted(scores: Any) -> bool:
    values = [float(s) for s in scores]
    return values == sorted(values, reverse=True)


def check_five_lines(block: Block, ran: Ran) -> None:
    assert len(block.text.strip().splitlines()) <= 5
    ids, scores = ran.namespace["ids"], ran.namespace["scores"]
    assert ids.shape == scores.shape == (1, 2)
    assert _sorted(scores[0])
    assert ran.output.strip()


def check_demo_output(block: Block, ran: Ran) -> None:
    """Printed output of `make demo` (not run here: examples/demo.py takes minutes)."""
    assert block.text.startswith("lateint-ref ")


def check_cli(block: Block, ran: Ran) -> None:
    assert "indexed 50 documents" in ran.output
    assert re.search(r"nDCG@10\s+0\.\d{4}", ran.output)


def check_encoder(block: Block, ran: Ran) -> None:
    docs, queries = ran.namespace["docs"], ran.namespace["queries"]
    assert len(docs) == 2
    assert all(d.ndim == 2 and d.shape[1] == 128 for d in docs)
    assert [q.shape for q in queries] == [(32, 128)]
    again = ran.namespace["enc"].encode(["a document", "another"], is_query=False)
    for a, b in zip(again, docs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def check_index(block: Block, ran: Ran) -> None:
    hits, index = ran.namespace["hits"], ran.namespace["index"]
    assert len(index) == 500
    assert len(hits) == 2
    for h in hits:
        assert len(h.ids) == 10
        assert set(h.ids) <= set(ran.namespace["doc_ids"])
        assert _sorted(h.scores)


def check_retriever(block: Block, ran: Ran) -> None:
    hits, run, r = ran.namespace["hits"], ran.namespace["run"], ran.namespace["r"]
    assert len(r.index) == 50
    assert len(hits.ids) == 3
    assert _sorted(hits.scores)
    assert run
    assert all(_sorted(h.scores) for h in run.values())
    metrics = re.findall(r"'(ndcg@10|recall@100)': ([0-9.e-]+)", ran.output)
    assert [m for m, _ in metrics] == ["ndcg@10", "recall@100"]
    assert all(0 < float(v) <= 1 for _, v in metrics)


def check_training(block: Block, ran: Ran) -> None:
    import lateint_ref as li

    assert float(ran.namespace["value"].detach()) > 0
    assert any(p.grad is not None for p in ran.namespace["model"].parameters())
    assert len(ran.namespace["triplets"]) == 1
    saved = li.Encoder.from_pretrained(ran.cwd / "out", backend="numpy")
    assert saved.embedding_size == 128


def check_pylate(block: Block, ran: Ran) -> None:
    (results,) = ran.namespace["results"]
    assert {r["id"] for r in results} == {"1", "2"}
    assert _sorted(r["score"] for r in results)


# Every README block, in order: (language, the check of what it claims).
CHECKS: dict[str, tuple[str, Callable[[Block, Ran], None] | None]] = {
    "set-up-two-commands-1": ("bash", None),  # make demo, make test: skipped
    "set-up-two-commands-2": ("", check_demo_output),
    "set-up-two-commands-3": ("bash", check_cli),
    "python-in-five-lines-1": ("python", check_five_lines),
    "encoder-texts-to-token-embeddings-as-pylate-computes-them-1": ("python", check_encoder),
    "index-build-once-search-in-milliseconds-on-disk-1": ("python", check_index),
    "retriever-texts-in-hits-out-and-their-ndcg-10-1": ("python", check_retriever),
    "training-the-model-the-losses-the-data-hard-negatives-a-trainer-1": (
        "python",
        check_training,
    ),
    "for-pylate-users-1": ("python", check_pylate),
}


def test_every_block_is_checked() -> None:
    """A block added to README.md (or moved, or given another language) needs its entry here."""
    assert [(b.id, b.lang) for b in BLOCKS] == [(k, lang) for k, (lang, _) in CHECKS.items()]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs_as_printed(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    if block.lang == "python":
        ran = _run_python(block, tmp_path)
    elif block.lang == "bash":
        ran = _run_bash(block, tmp_path)
    elif block.lang == "":
        ran = Ran(tmp_path, "")  # printed output: checked below, not run
    else:
        pytest.fail(f"README line {block.line}: no runner for a ```{block.lang} block")
    check = CHECKS.get(block.id, (block.lang, None))[1]
    if check is not None:
        check(block, ran)
