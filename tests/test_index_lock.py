"""The writers' lock (spec/index.md R-INDEX-14): one writer at a time, through an operating-system
lock that dies with its process. A second writer raises ``IndexLockedError`` at once by default,
or waits up to ``lock_timeout`` seconds; a killed holder releases the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lateint_ref import Index, IndexLockedError, InputError, LateIntError
from lateint_ref.retrieval import texts as texts_store

ROOT = Path(__file__).resolve().parent.parent

# Holds an exclusive flock on argv[1] (a file, or a folder with argv[2] == "dir"), says so, then
# sleeps argv[3] seconds (forever when negative) and exits, which releases it.
_HOLDER = """
import fcntl, os, sys, time
path, kind, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
if kind == "dir":
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
else:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(hold if hold >= 0 else 3600)
"""


def _docs(seed: int, n: int, dim: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, dim)).astype(np.float32) for _ in range(n)]


def _hold(path: Path, kind: str, seconds: float) -> subprocess.Popen[str]:
    """A child process holding the lock on ``path``, once it has said so."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), kind, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert child.stdout is not None
    said = child.stdout.readline().strip()
    child.stdout.close()
    assert said == "held"
    return child


@pytest.fixture
def index(tmp_path: Path) -> Index:
    return Index.create(tmp_path / "i", _docs(0, 20), seed=1)


@pytest.mark.spec("R-INDEX-13", "R-INDEX-14")
def test_a_second_writer_raises_at_once(index: Index, tmp_path: Path) -> None:
    """R-INDEX-14: while another process holds LOCK, add, delete, compact and create (into a
    folder a killed first commit left) raise IndexLockedError naming the requirement and the
    folder, without waiting; nothing changes."""
    path = Path(index.path)
    child = _hold(path / "LOCK", "file", -1)
    try:
        before = index.generation
        for write in (
            lambda: index.add(_docs(1, 2)),
            lambda: index.delete([0]),
            lambda: index.compact(),
        ):
            start = time.monotonic()
            with pytest.raises(IndexLockedError, match=f"R-INDEX-14: {path}") as caught:
                write()
            assert time.monotonic() - start < 5  # no wait (a generous bound for a busy machine)
            assert isinstance(caught.value, LateIntError)
            assert not isinstance(caught.value, ValueError)
        assert Index.open(path).generation == before
    finally:
        child.kill()
        child.wait()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    child = _hold(fresh / "LOCK", "file", -1)
    try:
        with pytest.raises(IndexLockedError, match="R-INDEX-14"):
            Index.create(fresh, _docs(2, 4))
    finally:
        child.kill()
        child.wait()
    assert len(Index.create(fresh, _docs(2, 4))) == 4  # R-INDEX-13: LOCK is a leftover


@pytest.mark.spec("R-INDEX-14")
def test_a_writer_with_a_timeout_waits_for_the_holder(index: Index) -> None:
    """R-INDEX-14: with lock_timeout, a writer polls the lock and commits once the holder has
    released it; a timeout too short raises IndexLockedError naming the time waited."""
    path = Path(index.path)
    child = _hold(path / "LOCK", "file", 1.0)
    try:
        with pytest.raises(IndexLockedError, match=r"waited lock_timeout=0\.1 s"):
            index.add(_docs(1, 2), lock_timeout=0.1)
        added = index.add(_docs(1, 2), lock_timeout=60)
        assert child.poll() is not None  # it committed after the holder was gone
    finally:
        child.kill()
        child.wait()
    assert len(added) == 22
    child = _hold(path / "LOCK", "file", 0.5)
    try:
        assert added.delete([0], lock_timeout=None).n_live == 21  # None: as long as it takes
    finally:
        child.kill()
        child.wait()


@pytest.mark.spec("R-INDEX-14")
def test_a_killed_holder_releases_the_lock(index: Index) -> None:
    """R-INDEX-14: the lock dies with its process: once a holder is killed by SIGKILL, a writer
    that does not wait commits."""
    child = _hold(Path(index.path) / "LOCK", "file", -1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert index.add(_docs(1, 2)).generation == index.generation + 1


@pytest.mark.spec("R-INDEX-14")
@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), True, "1", [1]])
def test_a_bad_lock_timeout_is_an_input_error(index: Index, bad: object) -> None:
    """R-INDEX-14: lock_timeout is a finite number >= 0 or None; anything else raises InputError
    naming it, before any change."""
    with pytest.raises(InputError, match=r"R-INDEX-14: lock_timeout .*got"):
        index.add(_docs(1, 2), lock_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="R-INDEX-14"):
        index.delete([0], lock_timeout=bad)  # type: ignore[arg-type]
    assert Index.open(index.path).generation == index.generation


@pytest.mark.spec("R-INDEX-14", "R-RET-1")
def test_the_retriever_folder_lock_raises_the_same_error(tmp_path: Path) -> None:
    """R-INDEX-14: the retriever's writer lock on its folder (R-RET-1) raises IndexLockedError at
    once, waits with a timeout, and is released when its holder is killed."""
    folder = tmp_path / "r"
    folder.mkdir()
    child = _hold(folder, "dir", 1.0)
    try:
        with (
            pytest.raises(IndexLockedError, match=f"R-INDEX-14: {folder}"),
            texts_store.writer_lock(folder),
        ):
            pass
        with texts_store.writer_lock(folder, lock_timeout=60):
            assert child.poll() is not None
    finally:
        child.kill()
        child.wait()
    child = _hold(folder, "dir", -1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with texts_store.writer_lock(folder):
        pass
