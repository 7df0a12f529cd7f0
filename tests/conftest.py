"""Shared fixtures: hypothesis profiles, the spec oracle, vector loading and the command-line
runner of the CLI tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings

# Spec coverage: the `spec` marker and --spec-coverage (tests/spec_plugin.py).
pytest_plugins = ["spec_plugin"]

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
sys.path.insert(0, str(SPEC))

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci", max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Trials of each kill-at-a-random-point test (tests/test_index_crash.py, test_retriever_live.py):
# 20 in `make test`, more with `make test-slow` (LATEINT_CRASH_TRIALS=200).
CRASH_TRIALS = int(os.environ.get("LATEINT_CRASH_TRIALS", "20"))


def load_vectors() -> dict:
    """spec/vectors/maxsim.json."""
    return json.loads((SPEC / "vectors" / "maxsim.json").read_text())


def decode(x: list, dtype: str = "float32", dim: int | None = None) -> np.ndarray:
    """A vector-file matrix; an empty list is ``[0, dim]``."""
    if not x:
        return np.zeros((0, dim or 1), dtype=dtype)
    return np.array(x, dtype=np.float64).astype(dtype)


SHARED_DATA = ROOT.parent / "shared" / "data"
BUNDLED = ROOT / "examples" / "data"
_UNPACKED: dict[str, Path] = {}


def beir_collection(name: str) -> Path:
    """A BEIR folder of collection ``name``: the copy bundled in ``examples/data/`` (gzipped,
    unpacked once per session, so the tests that use it always run), else ``../shared/data``;
    a collection found in neither is a visible skip."""
    import gzip
    import shutil
    import tempfile

    import pytest

    if (BUNDLED / name).is_dir():
        if name not in _UNPACKED:
            dest = Path(tempfile.mkdtemp(prefix=f"lateint-{name}-"))
            for gz in (BUNDLED / name).rglob("*.gz"):
                out = dest / gz.relative_to(BUNDLED / name).with_suffix("")
                out.parent.mkdir(parents=True, exist_ok=True)
                with gzip.open(gz, "rb") as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            _UNPACKED[name] = dest
        return _UNPACKED[name]
    path = SHARED_DATA / name
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"{name}: neither bundled in examples/data nor in {SHARED_DATA}")
    return path


def rebuild_minilm(dest: Path) -> Path:
    """PyLate's seed-0 MiniLM folder (spec/minilm_seed0.py)."""
    import minilm_seed0

    return minilm_seed0.rebuild(dest)


# The NumPy backend starts faster than torch (no torch import) and computes the same embeddings.
FAST_COMMANDS = ("index", "add", "search", "eval", "encode", "mine")


def lateint(*args: object, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Runs the command line (``python -m lateint_ref``) from the project root, stdout and stderr
    pipes (not terminals); commands that encode get ``--backend numpy`` unless one is given."""
    argv = [str(a) for a in args]
    command = next((a for a in argv if a in FAST_COMMANDS), None)
    if command and not {"--backend", "--help"} & set(argv):
        argv += ["--backend", "numpy"]
    return subprocess.run(
        [sys.executable, "-m", "lateint_ref", *argv],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def failed(result: subprocess.CompletedProcess, code: int) -> str:
    """Checks a failure's exit code and its one error line (R-CLI-4); returns the message."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("lateint: error: "), result.stderr
    assert re.search(r"R-[A-Z]+-\d+", lines[-1]), result.stderr  # the requirement broken
    assert sum(line.startswith("lateint: error:") for line in lines) == 1, result.stderr
    return lines[-1].removeprefix("lateint: error: ")


PROGRESS_LINE = re.compile(r"indexing: [\d,]+/[\d,]+ documents \(.*; committed after .*")


def ok(result: subprocess.CompletedProcess) -> str:
    """Checks a success: exit 0 and, on a non-terminal stderr, nothing but the lines of
    ``lateint index``'s progress, one per commit (R-CLI-5)."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    others = [line for line in result.stderr.splitlines() if not PROGRESS_LINE.fullmatch(line)]
    assert others == [], result.stderr
    return result.stdout
