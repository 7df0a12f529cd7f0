"""R-MAXSIM-14: the computation releases the GIL, and concurrent calls are safe."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import lateint_ref as li

pytestmark = pytest.mark.spec("R-MAXSIM-14")

RNG = np.random.default_rng(3)
QUERY = RNG.standard_normal((32, 128)).astype(np.float32)
# About 1.5 GFLOP per call: long enough (tens of milliseconds or more) to observe.
BIG = li.Documents([RNG.standard_normal((180, 128)).astype(np.float32) for _ in range(1000)])


def test_other_python_threads_run_during_a_call() -> None:
    """While one thread is inside maxsim, another keeps executing Python bytecode."""
    ticks: list[float] = []
    inside = threading.Event()
    done = threading.Event()

    def ticker() -> None:
        inside.wait()
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0)

    t = threading.Thread(target=ticker)
    t.start()
    calls = []
    for _ in range(3):
        start = time.perf_counter()
        inside.set()
        li.maxsim(QUERY, BIG, threads=1)
        calls.append((start, time.perf_counter()))
    done.set()
    t.join()
    # With the GIL held, the ticker could not run at all while the native code computes; with it
    # released, it ticks throughout. Count ticks strictly inside the calls.
    during = sum(1 for x in ticks for s, e in calls if s < x < e)
    assert during >= 30, f"only {during} ticks during {len(calls)} native calls"


def test_concurrent_calls_agree() -> None:
    """Calls from several Python threads at once give the single-threaded results."""
    queries = [RNG.standard_normal((n, 128)).astype(np.float32) for n in (4, 32, 17, 9)]
    want = [li.maxsim(q, BIG, threads=1) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda q: li.maxsim(q, BIG, threads=2), queries * 2))
    for g, w in zip(got, want * 2, strict=True):
        np.testing.assert_array_equal(g, w)
