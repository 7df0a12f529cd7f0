"""Where the kit finds the spec's vectors, and how it reads them.

The vectors live in the repository's ``spec/`` folder (``spec/vectors/`` from the generators,
``spec/conformance/`` for the kit's own groups); ``--spec DIR`` points elsewhere. Each file names
the version of the spec it was generated for (``spec_version``; for the hand-run PyLate goldens,
``spec/vectors/VERSIONS.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.errors import InputError

DEFAULT_SPEC = Path(__file__).resolve().parent.parent.parent / "spec"


def spec_dir(path: str | Path | None) -> Path:
    """The spec folder to read (the repository's by default); InputError when it is absent."""
    folder = Path(path) if path is not None else DEFAULT_SPEC
    if not (folder / "vectors").is_dir():
        raise InputError(f"no spec vectors under {folder} (pass --spec DIR, the spec/ folder)")
    return folder


def load_json(path: Path) -> Any:
    """A vector file's JSON; InputError naming it when missing."""
    if not path.is_file():
        raise InputError(f"missing vector file {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def spec_version(spec: Path, name: str) -> int | None:
    """The spec version a vector file records (``spec/vectors/VERSIONS.json`` for those that
    carry none themselves), None when unknown."""
    versions = spec / "vectors" / "VERSIONS.json"
    if versions.is_file():
        entry = json.loads(versions.read_text(encoding="utf-8"))["files"].get(name)
        if entry is not None:
            return int(entry["spec_version"])
    return None


_NON_FINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def matrix(rows: list[Any], dtype: str = "float32", dim: int | None = None) -> np.ndarray:
    """``[n_tokens, dim]`` array of a vector matrix (non-finite values written as strings; an
    empty list is zero tokens of ``dim``)."""
    if not rows:
        return np.zeros((0, dim or 1), dtype=dtype)
    values = [[_NON_FINITE[v] if isinstance(v, str) else v for v in row] for row in rows]
    return np.array(values, dtype=np.float64).astype(np.float32).astype(dtype)


def encode_matrix(a: np.ndarray) -> list[list[float]]:
    """A finite float32 matrix as nested lists of the shortest decimals that read back as the
    same float32 values (through float64 too)."""
    out = []
    for row in np.asarray(a, dtype=np.float32):
        values = []
        for v in row:
            s = np.format_float_positional(v, unique=True, trim="-")
            x = float(s)
            values.append(x if np.float32(x) == v else float(v))
        out.append(values)
    return out
