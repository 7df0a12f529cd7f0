"""The encoder's ``precision="auto"`` (R-ENC-13): the arithmetic chosen from what this CPU runs
fast, never from an assumption that holds on one CPU family only.

Measured with ``bench/bench_encoder.py`` (torch's CPU autocast to bfloat16 against float32, SciFact
documents): 1.9x float32's rate on AMD Zen 4 (AVX512_BF16), 2.1x on an Intel Xeon with AMX-BF16,
but 0.6x on an Intel Xeon with AVX512_BF16 and no AMX (the speed issue's measurement); one query
(a batch of one short text) gains nothing from it. So ``auto`` encodes documents in bfloat16 on
CPUs with AMX-BF16 or on AMD CPUs with AVX512_BF16, and everything else in float32.
"""

from __future__ import annotations

import functools

from lateint_ref.errors import InputError

PRECISIONS = ("float32", "bfloat16", "auto")


def cpu_flags() -> tuple[str, frozenset[str]]:
    """This CPU's vendor and feature flags from /proc/cpuinfo (empty where unreadable)."""
    vendor, flags = "", frozenset[str]()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = frozenset(value.split())
                if vendor and flags:
                    break
    except OSError:
        pass
    return vendor, flags


def bf16_pays(vendor: str, flags: frozenset[str]) -> bool:
    """Whether torch's bfloat16 autocast encodes documents faster than float32 on such a CPU."""
    if "amx_bf16" in flags:
        return True
    return vendor == "AuthenticAMD" and "avx512_bf16" in flags


@functools.cache
def _this_cpu_bf16_pays() -> bool:
    return bf16_pays(*cpu_flags())


def resolve(precision: str, backend: str, *, is_query: bool) -> str:
    """The arithmetic ``precision`` means for one call: ``"float32"`` or ``"bfloat16"``."""
    if precision not in PRECISIONS:
        raise InputError(f"R-ENC-10: precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if backend != "torch" or is_query:
        return "float32"
    return "bfloat16" if _this_cpu_bf16_pays() else "float32"
