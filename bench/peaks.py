"""This CPU's limits, measured by the project's own micro-benchmark (``_native.cpu_peak``).

One thread, each limit the best of a few timings of a register-only assembly loop with 16 (12 on
AVX2) independent accumulators: fp32 FMA, the AVX512_BF16 pair dot product, the u8 x i8 quad dot
product (AVX512_VNNI / AVX-VNNI), and the sequential read bandwidth over a 256 MiB buffer. Every
kernel figure of ``make bench`` is reported as a share of these, measured in the same run.

    .venv/bin/python bench/peaks.py [--output bench/results/peaks.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import write_report

# (kind, label, unit)
LIMITS = (
    ("fma_f32", "fp32 FMA", "GFLOP/s"),
    ("dot_bf16", "bf16 dot (vdpbf16ps)", "GFLOP/s"),
    ("dot_i8", "int8 dot (vpdpbusd)", "GOP/s"),
    ("read", "read bandwidth", "GB/s"),
)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, with its vendor, family and model numbers (a
    virtual machine often hides the name; Intel family 6 model 143 is Sapphire Rapids, 207 Emerald
    Rapids; AMD family 25 is Zen 3 and Zen 4)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
                if not line.strip():
                    break  # the first CPU's block
    except OSError:
        pass
    model = fields.get("model name", "unknown")
    ident = ", ".join(
        f"{name} {fields[key]}"
        for key, name in (("vendor_id", "vendor"), ("cpu family", "family"), ("model", "model"))
        if key in fields
    )
    return f"{model} ({ident})" if ident else model


def measure(seconds: float = 0.3, repeats: int = 3) -> dict[str, dict]:
    """Every limit: ``{kind: {"value": rate or None, "isa": name or None, "unit": unit}}``."""
    from lateint_ref import _native

    out = {}
    for kind, _, unit in LIMITS:
        got = _native.cpu_peak(kind, seconds, repeats)
        out[kind] = {
            "value": None if got is None else got[0],
            "isa": None if got is None else got[1],
            "unit": unit,
        }
    return out


def lines(peaks: dict[str, dict]) -> list[str]:
    """A markdown table of the limits."""
    from lateint_ref import _native

    rows = ["| limit (1 thread) | value | instruction set |", "| --- | ---: | --- |"]
    for kind, label, unit in LIMITS:
        p = peaks[kind]
        value = "not on this CPU" if p["value"] is None else f"{p['value']:.1f} {unit}"
        rows.append(f"| {label} | {value} | {p['isa'] or '–'} |")
    fma, dot = peaks["fma_f32"]["value"], peaks["dot_bf16"]["value"]
    ratio = f"{dot / fma:.2f}" if fma and dot else "–"
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; kernels {_native.available_isas()},"
        f" bfloat16 route `{_native.bf16_route()}`",
        "",
        *rows,
        "",
        f"bf16 dot / fp32 FMA: {ratio} (a bfloat16 kernel built on `vdpbf16ps` can beat the f32 one"
        " only where this is above 1).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, help="markdown report path")
    parser.add_argument("--seconds", type=float, default=0.3, help="each timing at least this")
    args = parser.parse_args()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            "# This CPU's limits",
            "",
            "Command: `.venv/bin/python bench/peaks.py` (part of `make bench`); " + stamp,
            "",
            *lines(measure(args.seconds)),
            "",
        ]
    )
    write_report(report, args.output)


if __name__ == "__main__":
    main()
