"""Start-up cost of the entry points: ``python -c "import lateint_ref"``, ``lateint --help`` and,
for contrast, loading the whole API (encoder, index, retriever). Each is run in a fresh
interpreter ``--runs`` times (after one warm-up run, so the files are in the page cache); the
median and the fastest wall times are reported with the heavy modules each one loaded.

    .venv/bin/python bench/bench_imports.py [--runs 15] [--output bench/results/imports.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import cpu_memory, write_report

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "torch", "tokenizers", "safetensors", "lateint_ref._native")
REPORT = "import json, sys; print(json.dumps(sorted(m for m in sys.modules if m in {})))"
CASES = {
    "python -c 'import lateint_ref'": "import lateint_ref",
    "lateint --help": (
        "import contextlib, io\n"
        "from lateint_ref.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])"
    ),
    "the whole API (Encoder, Index, Retriever)": (
        "import lateint_ref as li; li.Encoder, li.Index, li.Retriever, li.maxsim"
    ),
    "python -c 'pass' (the interpreter alone)": "pass",
}


def timed(code: str) -> tuple[float, list[str]]:
    """Wall seconds of a fresh interpreter running ``code``, and the heavy modules it loaded."""
    probe = f"{code}\n{REPORT.format(HEAVY)!s}"
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return time.perf_counter() - start, json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    lines = [
        "# Start-up cost of the entry points",
        "",
        f"- machine: {cpu_memory()}; Python {sys.version.split()[0]}",
        f"- each in a fresh interpreter, {args.runs} runs after one warm-up; wall time of the "
        "whole process (interpreter start included)",
        "",
        "| entry point | median ms | fastest ms | heavy modules loaded |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, code in CASES.items():
        timed(code)  # warm-up
        runs = [timed(code) for _ in range(args.runs)]
        seconds = [s for s, _ in runs]
        loaded = ", ".join(runs[0][1]) or "none"
        lines.append(
            f"| {name} | {1e3 * statistics.median(seconds):.1f} | {1e3 * min(seconds):.1f} "
            f"| {loaded} |"
        )
    write_report("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
