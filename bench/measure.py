"""What the benchmarks share to measure and report: CPU wait (Linux PSI), peak memory, sizes on
disk, the machine line and writing a report. Standard library only, so that the peers venv can
import it too."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Every library's thread-count variable, set for one-thread measurements.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")


def psi_total() -> int | None:
    """Microseconds in which some task waited for a CPU since boot (Linux PSI), or None."""
    try:
        with open("/proc/pressure/cpu", encoding="utf-8") as f:
            return int(f.readline().rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


class Clock:
    """Wall time of a block and the share of it in which some task waited for a CPU."""

    def __enter__(self) -> Clock:
        self.wait0, self.start = psi_total(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        wait1 = psi_total()
        ok = self.wait0 is not None and wait1 is not None and self.seconds > 0
        self.cpu_wait = (wait1 - self.wait0) / 1e6 / self.seconds if ok else None


def best_seconds(f: Callable[[], object], repeats: int = 5) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``f``, after one warm-up call."""
    f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def vm_hwm() -> int:
    """Peak resident set of this process's memory, in bytes (``VmHWM``; unlike ``ru_maxrss`` it
    does not inherit the high-water mark of the parent that spawned this process)."""
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def dir_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cpu_memory() -> str:
    """``"<CPU model>, <n> cores, <m> GiB"``."""
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        model = next(
            (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model
        )
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem = int(f.readline().split()[1]) / 2**20
    return f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB"


def write_report(text: str, output: Path | None) -> None:
    """Prints the report and writes it to ``output`` when given."""
    print(text)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)


def run_phase(cmd: list[str], phase: str, threads: int | None) -> dict:
    """Runs ``cmd + ["--out", FILE]`` (a phase of a peers script, offline, with the thread
    variables set when ``threads`` is given) and returns the JSON it writes to FILE, with
    ``<phase>_wall_seconds`` and ``<phase>_cpu_wait``: the share of its wall time in which some task
    waited for a CPU (other load on the machine when well above 0)."""
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    if threads is not None:
        env |= dict.fromkeys(THREAD_ENV, str(threads))
    with tempfile.NamedTemporaryFile(suffix=".json") as out, Clock() as clock:
        subprocess.run([*cmd, "--out", out.name], check=True, env=env)
        r = json.loads(Path(out.name).read_text())
    r[f"{phase}_wall_seconds"] = clock.seconds
    r[f"{phase}_cpu_wait"] = clock.cpu_wait
    return r
