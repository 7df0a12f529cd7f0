"""Peak memory of the streaming build (spec/index.md R-INDEX-17) against the in-memory build of
the same synthetic collection.

Collection (seeded NumPy): documents of 100..200 tokens, every token a random unit vector of
dim 128 (normal components, normalised), generated batch by batch (about 2^16 tokens a batch).
Each build runs in a fresh process: the in-memory one packs every batch into one
``[n_tokens, 128]`` array, then calls ``Index.create(path, (vectors, offsets))``; the streaming
one passes the generator itself, ``Index.create(path, batches())``, so no more than one batch is
ever generated and held. Peak memory is the process's ``VmHWM`` (every resident page, the index's
mapped files included) and the peak of ``RssAnon`` (its heap: no file pages) sampled every 5 ms
by a thread. Both builds use the default parameters (nbits 2, seed 0, K and sample by R-KMEANS-1)
on every core; the codec files are compared byte for byte.

    .venv/bin/python bench/bench_stream.py [--tokens 10000000] [--output bench/results/stream.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Clock, cpu_memory, dir_bytes, vm_hwm, write_report

DIM = 128
DOC_LEN = (100, 200)
BATCH_TOKENS = 1 << 16
SEED = 0


def lengths(n_tokens: int) -> np.ndarray:
    """Document lengths ``[n_docs] i64`` summing to about ``n_tokens`` (a few KiB per 10^6)."""
    rng = np.random.default_rng(SEED)
    n_docs = max(1, round(n_tokens / np.mean(DOC_LEN)))
    return rng.integers(DOC_LEN[0], DOC_LEN[1] + 1, size=n_docs)


def batches(lens: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Packed batches ``(vectors [t, DIM] f32, offsets [b + 1] i64)`` of whole documents of about
    ``BATCH_TOKENS`` tokens, generated one at a time from the seed."""
    rng = np.random.default_rng(SEED + 1)
    ends = np.cumsum(lens)
    d0 = 0
    while d0 < len(lens):
        start = ends[d0 - 1] if d0 else 0
        d1 = max(d0 + 1, int(np.searchsorted(ends, start + BATCH_TOKENS, side="right")))
        offsets = np.concatenate([[0], ends[d0:d1] - start]).astype(np.int64)
        x = rng.standard_normal((int(offsets[-1]), DIM), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield x, offsets
        d0 = d1


class AnonPeak:
    """The peak of this process's ``RssAnon`` (bytes), sampled every 5 ms by a thread."""

    def __enter__(self) -> AnonPeak:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
                        break
            self._stop.wait(0.005)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def worker(mode: str, n_tokens: int, path: Path) -> dict:
    """One build in this process; returns its measurements."""
    import lateint_ref as li

    lens = lengths(n_tokens)
    before = vm_hwm()
    with AnonPeak() as anon:
        gen_s = 0.0
        if mode == "memory":
            start = time.perf_counter()
            offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
            vectors = np.empty((int(offsets[-1]), DIM), dtype=np.float32)
            row = 0
            for x, _ in batches(lens):
                vectors[row : row + len(x)] = x
                row += len(x)
            gen_s = time.perf_counter() - start
            with Clock() as clock:
                index = li.Index.create(path, (vectors, offsets))
        else:
            with Clock() as clock:
                index = li.Index.create(path, batches(lens))
    return {
        "mode": mode,
        "n_tokens": index.n_tokens,
        "n_docs": len(index),
        "k": index.stats()["n_centroids"],
        "segments": len(index.segments()),
        "generate_s": gen_s,
        "create_s": clock.seconds,
        "cpu_wait": clock.cpu_wait,
        "vm_hwm": vm_hwm(),
        "vm_hwm_before": before,
        "rss_anon_peak": anon.peak,
        "disk_bytes": dir_bytes(path),
    }


def run(mode: str, n_tokens: int, path: Path) -> dict:
    """``worker`` in a fresh process (its own peak memory)."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        mode,
        "--tokens",
        str(n_tokens),
        "--path",
        str(path),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])


def report(args: argparse.Namespace, rows: list[dict], same_codec: bool, total_s: float) -> str:
    import lateint_ref as li

    mib = 2**20
    r0 = rows[0]
    floats = r0["n_tokens"] * DIM * 4
    lines = [
        "# Index benchmark: peak memory of the streaming build (synthetic)",
        "",
        f"- command: `.venv/bin/python bench/bench_stream.py --tokens {args.tokens}"
        + (f" --output {args.output}`" if args.output else "`"),
        f"- machine: {cpu_memory()}; lateint_ref {li.__version__}",
        f"- date: {datetime.date.today().isoformat()}; total run time {total_s:.0f} s",
        f"- data: {r0['n_tokens']:,} tokens in {r0['n_docs']:,} documents of "
        f"{DOC_LEN[0]}..{DOC_LEN[1]} tokens, random unit vectors of dim {DIM} (seeded), generated "
        f"in batches of about {BATCH_TOKENS:,} tokens; the collection's floats are "
        f"{floats / mib:,.0f} MiB",
        f"- index: defaults (nbits 2, seed 0, K = {r0['k']:,}), every core; streaming: "
        "`Index.create(path, generator)` with the default `segment_tokens` (2^18); in-memory: "
        "the batches packed into one array, then `Index.create(path, (vectors, offsets))`",
        "- peak RSS: `VmHWM` of a fresh process per build (file pages of the index's mapped "
        "files included); peak anon: the highest `RssAnon` sampled every 5 ms",
        f"- codec files byte-identical: {'yes' if same_codec else 'NO'}",
        "",
        "| build | create s | generate s | segments | peak RSS MiB | peak anon MiB "
        "| RSS before MiB | MiB on disk |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['create_s']:.1f} | {r['generate_s']:.1f} | {r['segments']} "
            f"| {r['vm_hwm'] / mib:,.0f} | {r['rss_anon_peak'] / mib:,.0f} "
            f"| {r['vm_hwm_before'] / mib:,.0f} | {r['disk_bytes'] / mib:,.1f} |"
        )
    lines.append("")
    lines.append(
        "generate s: the in-memory build's time to generate and pack the batches before "
        "`create` (the streaming build generates them inside `create`, in its time)."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=lambda s: int(float(s)), default=10**7)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--worker", choices=["memory", "stream"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.tokens, args.path)))
        return
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for mode in ("memory", "stream"):
            rows.append(run(mode, args.tokens, Path(tmp) / mode))
            print(json.dumps(rows[-1]), file=sys.stderr)
        codecs = [(Path(tmp) / m / "codec-1.lti").read_bytes() for m in ("memory", "stream")]
    write_report(
        report(args, rows, codecs[0] == codecs[1], time.perf_counter() - start), args.output
    )


if __name__ == "__main__":
    main()
