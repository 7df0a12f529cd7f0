"""What each entry point imports (R-CLI-1, README "Layout"): ``import lateint_ref`` and
``lateint --help`` load no encoder, index, NumPy, torch or tokenizers; ``lateint search`` loads
what a search needs and nothing of the other commands or of torch on the NumPy backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
HEAVY = ("numpy", "torch", "tokenizers", "safetensors", "lateint_ref._native")


def modules_after(code: str) -> set[str]:
    """The modules loaded by running ``code`` in a fresh interpreter."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


def test_import_is_lazy() -> None:
    """``import lateint_ref`` loads only the package and its errors."""
    modules = modules_after("import lateint_ref")
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, ("lateint_ref",)) == ["lateint_ref", "lateint_ref.errors"]


def test_names_resolve_on_first_use() -> None:
    """Every re-exported name resolves (and only then loads its room)."""
    modules = modules_after(
        "import lateint_ref as li\n"
        "assert li.Index.__module__ == 'lateint_ref.index.reader'\n"
        "assert 'lateint_ref.encoding' not in __import__('sys').modules\n"
        "for name in li.__all__:\n"
        "    getattr(li, name)\n"
    )
    assert "lateint_ref.encoding.encoder" in modules
    assert "torch" not in modules  # the encoder imports torch only for the torch backend


def test_unknown_attribute_is_an_attribute_error() -> None:
    import lateint_ref

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = lateint_ref.nope  # type: ignore[attr-defined]


@pytest.mark.spec("R-CLI-1")
def test_help_loads_no_command() -> None:
    """R-CLI-1: ``lateint --help`` and ``lateint search --help`` load no command module."""
    modules = modules_after(
        "import contextlib, io\n"
        "from lateint_ref.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0 and main(['search', '--help']) == 0\n"
    )
    assert loaded(modules, HEAVY) == []
    names = ("index", "search", "eval", "encode", "info", "mine", "train")
    commands = tuple(f"lateint_ref.cli.{c}" for c in names)
    assert loaded(modules, commands) == []
    assert loaded(modules, ("lateint_ref.retrieval", "lateint_ref.index")) == []
    assert loaded(modules, ("lateint_ref.training",)) == []


def test_search_loads_only_what_it_uses(tmp_path: Path) -> None:
    """``lateint search`` (NumPy backend) loads the retriever, the encoder and the index, and
    neither torch, nor evaluation, nor the other commands."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": f"d{i}", "text": f"document {i} about cats"}) + "\n"
                for i in range(5)),
        encoding="utf-8",
    )  # fmt: skip
    index = tmp_path / "idx"
    subprocess.run(
        [sys.executable, "-m", "lateint_ref", "index", str(corpus), "--model", str(MODEL),
         "--index", str(index), "--backend", "numpy"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    argv = ["search", "--index", str(index), "cats", "--backend", "numpy"]
    modules = modules_after(
        "import contextlib, io\n"
        "from lateint_ref.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({argv!r}) == 0\n"
    )
    assert {"lateint_ref.cli.search", "lateint_ref.retrieval.retriever"} <= modules
    assert {"lateint_ref.index.reader", "lateint_ref.encoding.encoder"} <= modules
    assert loaded(modules, ("torch",)) == []
    assert loaded(modules, ("lateint_ref.evaluation",)) == []
    names = ("index", "eval", "encode", "info", "mine", "train")
    others = tuple(f"lateint_ref.cli.{c}" for c in names)
    assert loaded(modules, others) == []
    assert loaded(modules, ("lateint_ref.training",)) == []
