"""Stopping a build or an addition (R-INDEX-8): an error of the progress callback, or Ctrl-C,
stops the native work promptly and propagates unchanged; the directory is left as it was."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lateint_ref import Index, _native

ROOT = Path(__file__).resolve().parent.parent


class Stop(ValueError):
    """Raised by the callbacks below: a ValueError that is not an InputError."""


def _collection(seed: int, n_docs: int, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, n_docs)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    vectors = rng.standard_normal((int(offsets[-1]), dim)).astype(np.float32)
    return vectors, offsets


def _build(path: Path, seed: int, progress: Callback | None, threads: int | None) -> None:
    vectors, offsets = _collection(seed, 300)
    ids = np.arange(len(offsets) - 1, dtype=np.int64)
    _native.build_index(
        str(path), vectors, offsets, ids, 2, seed, None, None, 4, "{}", threads, progress
    )


def _append(path: Path, seed: int, progress: Callback | None, threads: int | None) -> None:
    vectors, offsets = _collection(seed, 120)
    ids = np.arange(1000, 1000 + len(offsets) - 1, dtype=np.int64)
    _native.append_index(str(path), vectors, offsets, ids, threads, progress)


Callback = Callable[[str, int, int], None]


def _calls(run: Callable[[Callback], None]) -> list[tuple[str, int, int]]:
    """The progress reports of a run that is not stopped."""
    seen: list[tuple[str, int, int]] = []
    run(lambda stage, done, total: seen.append((stage, done, total)))
    return seen


def _stop_at(n: int) -> Callback:
    """A callback raising `Stop` at its n-th call."""
    count = iter(range(n + 1))

    def callback(stage: str, done: int, total: int) -> None:
        if next(count) == n:
            raise Stop(f"stop at {stage} {done}/{total}")

    return callback


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in path.iterdir() if f.name != "LOCK"}


@pytest.mark.spec("R-INDEX-8")
@pytest.mark.parametrize("threads", [None, 2])
def test_callback_error_stops_create(tmp_path: Path, threads: int | None) -> None:
    """R-INDEX-8: a callback's error at any report stops the build and is raised unchanged
    (not wrapped, not dropped); nothing is committed and the path is as before (absent), so the
    same build then succeeds."""
    calls = _calls(lambda cb: _build(tmp_path / "ref", 3, cb, threads))
    stages = {c[0] for c in calls}
    assert {"sample", "k-means", "assign", "encode", "write"} <= stages
    # The first report of each stage, and the last report of all.
    stops = sorted({calls.index(next(c for c in calls if c[0] == s)) for s in stages})
    for n in [*stops, len(calls) - 1]:
        path = tmp_path / f"stopped-{n}"
        with pytest.raises(Stop) as info:
            _build(path, 3, _stop_at(n), threads)
        assert type(info.value) is Stop
        assert str(info.value) == "stop at {} {}/{}".format(*calls[n])
        assert not path.exists(), sorted(p.name for p in path.iterdir())
    _build(path, 3, None, threads)
    assert _files(path) == _files(tmp_path / "ref")


@pytest.mark.spec("R-INDEX-7", "R-INDEX-8")
@pytest.mark.parametrize("threads", [None, 2])
def test_callback_error_stops_add(tmp_path: Path, threads: int | None) -> None:
    """R-INDEX-8, R-INDEX-7: a callback's error at any report of an addition is raised
    unchanged; the index stays at its last commit, byte for byte, with no stray file, and a
    later addition succeeds."""
    path = tmp_path / "index"
    _build(path, 5, None, threads)
    before = _files(path)
    ref = tmp_path / "ref"
    _build(ref, 5, None, threads)
    calls = _calls(lambda cb: _append(ref, 6, cb, threads))
    assert {"assign", "encode", "write"} <= {c[0] for c in calls}
    for n in range(len(calls)):
        with pytest.raises(Stop) as info:
            _append(path, 6, _stop_at(n), threads)
        assert type(info.value) is Stop
        assert _files(path) == before
        index = Index.open(path)
        assert (index.generation, index.ids) == (1, list(range(300)))
    _append(path, 6, None, threads)
    assert _files(path) == _files(ref)


@pytest.mark.spec("R-INDEX-8")
def test_keyboard_interrupt_from_the_callback_propagates(tmp_path: Path) -> None:
    """R-INDEX-8: KeyboardInterrupt raised in the callback stays KeyboardInterrupt."""

    def callback(stage: str, done: int, total: int) -> None:
        if stage == "k-means":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _build(tmp_path / "i", 1, callback, None)
    assert not (tmp_path / "i").exists()


# The child builds (or adds) over 400,000 random 64-dimensional vectors: several seconds of work
# on two cores. It prints its progress on stderr, so the parent sends SIGINT once a stage of the
# native work has started.
# The child restores Python's own SIGINT handler first: a process started in the background of a
# non-interactive shell (`make test &`, as CI runners may start it) inherits SIGINT ignored, and
# Python then installs no handler, so the signal would rightly do nothing.
CHILD = textwrap.dedent(
    """
    import signal
    import sys
    import numpy as np
    import lateint_ref as li

    signal.signal(signal.SIGINT, signal.default_int_handler)

    mode, path = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((400_000, 64), dtype=np.float32)
    offsets = np.arange(0, 400_001, 8)
    if mode == "add":
        index = li.Index.create(path, (vectors[:16384], offsets[:2049]), n_centroids=2048)
    try:
        if mode == "create":
            li.Index.create(path, (vectors, offsets), n_centroids=2048, progress=True)
        else:
            index.add((vectors, offsets), progress=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(130)
    print("finished", flush=True)
    """
)


def _interrupt(mode: str, path: Path, marker: bytes) -> tuple[float, str]:
    """Runs the child until `marker` shows on its stderr, sends SIGINT; returns the seconds it
    took to exit after the signal, and its stdout."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        err = b""
        deadline = time.monotonic() + 120
        assert child.stderr is not None
        while marker not in err:
            assert time.monotonic() < deadline, err
            ready, _, _ = select.select([child.stderr], [], [], 1.0)
            if ready:
                chunk = os.read(child.stderr.fileno(), 4096)
                assert chunk, f"child ended first: {err!r}"
                err += chunk
        time.sleep(0.2)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, rest = child.communicate(timeout=60)
        return time.monotonic() - sent, out.decode() + (err + rest).decode(errors="replace")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.spec("R-INDEX-8")
def test_ctrl_c_stops_create(tmp_path: Path) -> None:
    """R-INDEX-8: SIGINT during the native k-means raises KeyboardInterrupt in the caller within
    well under 2 s; the path holds no committed index (nothing at all: it did not exist)."""
    path = tmp_path / "index"
    elapsed, out = _interrupt("create", path, b"k-means")
    assert out.startswith("KeyboardInterrupt"), out[-2000:]
    assert elapsed < 2.0, elapsed
    assert not path.exists(), sorted(p.name for p in path.iterdir())


@pytest.mark.spec("R-INDEX-8")
def test_ctrl_c_stops_add(tmp_path: Path) -> None:
    """R-INDEX-8: SIGINT during the assignment of an addition raises KeyboardInterrupt within
    well under 2 s; the index is still at generation 1, with its files only."""
    path = tmp_path / "index"
    elapsed, out = _interrupt("add", path, b"adding to index: assign")
    assert out.startswith("KeyboardInterrupt"), out[-2000:]
    assert elapsed < 2.0, elapsed
    index = Index.open(path)
    assert (index.generation, len(index)) == (1, 2048)
    assert sorted(p.name for p in path.iterdir()) == [
        "LOCK",
        "MANIFEST",
        "codec-1.lti",
        "segment-1.lti",
    ]
