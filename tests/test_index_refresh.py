"""Readers and one writer (spec/index.md R-INDEX-15): an opened index searches the commit it
opened while a writer commits, in this process or another, and ``refresh`` moves it to the latest
commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lateint_ref import Index, IndexFormatError

ROOT = Path(__file__).resolve().parent.parent


def _docs(seed: int, n: int, dim: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, dim)).astype(np.float32) for _ in range(n)]


def _queries(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((3, 4, 8)).astype(np.float32)


@pytest.mark.spec("R-INDEX-12", "R-INDEX-15")
def test_refresh_moves_to_the_latest_commit(tmp_path: Path) -> None:
    """R-INDEX-15: refresh returns False while nothing was committed; after commits by another
    writer it returns True and searches as the index opened afresh, by default and
    exhaustively; an index not refreshed keeps its commit."""
    path = tmp_path / "i"
    Index.create(path, _docs(0, 60), seed=1)
    reader, stale = Index.open(path), Index.open(path)
    assert reader.refresh() is False
    writer = Index.open(path).add(_docs(1, 10)).delete([3, 61]).compact()
    assert reader.refresh() is True
    assert reader.refresh() is False
    fresh = Index.open(path)
    assert (reader.generation, reader.live_ids, len(reader)) == (
        writer.generation,
        fresh.live_ids,
        len(fresh),
    )
    for exhaustive in (False, True):
        got = reader.search(_queries(2), 5, exhaustive=exhaustive)
        want = fresh.search(_queries(2), 5, exhaustive=exhaustive)
        assert [h.ids for h in got] == [h.ids for h in want]
        assert all(np.array_equal(a.scores, b.scores) for a, b in zip(got, want, strict=True))
    assert (stale.generation, len(stale)) == (1, 60)  # its files stay mapped (R-INDEX-12)
    assert all(len(h.ids) == 5 for h in stale.search(_queries(2), 5, exhaustive=True))


@pytest.mark.spec("R-INDEX-15")
def test_a_refresh_that_fails_leaves_the_commit_opened(tmp_path: Path) -> None:
    """R-INDEX-15: a newer commit that cannot be opened raises IndexFormatError and the index
    keeps searching the commit it had."""
    path = tmp_path / "i"
    reader = Index.create(path, _docs(0, 30), seed=1)
    writer = Index.open(path).add(_docs(1, 5))
    name = writer.segments()[-1][0]
    data = bytearray((path / name).read_bytes())
    data[-1] ^= 0xFF
    (path / name).write_bytes(bytes(data))
    with pytest.raises(IndexFormatError):
        reader.refresh()
    assert reader.generation == 1
    assert len(reader.search(_queries(0), 5)[0].ids) == 5


# Searches the index in a loop for argv[3] seconds, refreshing between searches; every result must
# hold live ids of the commit searched (all k of them, exhaustively). Writes what it saw to argv[4].
_READER = """
import json, sys, time, numpy as np
from lateint_ref import Index
path, seed, seconds, report = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(seed)
index = Index.open(path)
seen = {index.generation: index.live_ids}
searches = refreshed = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    live = set(index.live_ids)
    queries = rng.standard_normal((2, 4, 8)).astype(np.float32)
    for exhaustive in (False, True):
        for hits in index.search(queries, 5, exhaustive=exhaustive):
            if not set(hits.ids) <= live or (exhaustive and len(hits.ids) != min(5, len(live))):
                sys.exit(f"generation {index.generation}: {hits.ids} not of {sorted(live)}")
    searches += 1
    if index.refresh():
        refreshed += 1
        seen[index.generation] = index.live_ids
with open(report, "w") as f:
    json.dump({"searches": searches, "refreshed": refreshed, "seen": seen}, f)
"""


@pytest.mark.spec("R-INDEX-6", "R-INDEX-12", "R-INDEX-15")
def test_readers_in_other_processes_see_committed_states(tmp_path: Path) -> None:
    """R-INDEX-15, R-INDEX-6, R-INDEX-12: two reader processes search in a loop, refreshing, while
    this process adds, upserts, deletes and compacts: no search fails, every result holds live
    ids of the commit it searched, and every commit a reader opened is one the writer made, with
    the same live ids."""
    path = tmp_path / "i"
    index = Index.create(path, _docs(0, 200), seed=1)
    committed = {index.generation: index.live_ids}
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(path), str(seed), "8", str(tmp_path / f"{seed}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for seed in (1, 2)
    ]
    rng = np.random.default_rng(3)
    step, next_id = 0, 10_000
    while any(r.poll() is None for r in readers) and step < 2000:
        op, live = step % 4, index.live_ids
        if op == 0:
            index = index.add(_docs(step, 4), ids=list(range(next_id, next_id + 4)))
            next_id += 4
        elif op == 1:
            index = index.delete([int(x) for x in rng.choice(live, 3, replace=False)])
        elif op == 2:
            ids = [int(x) for x in rng.choice(live, 2, replace=False)]
            index = index.add(_docs(step, 2), ids=ids, upsert=True)
        else:
            index = index.compact()
        committed[index.generation] = index.live_ids
        step += 1
    errors = [r.communicate(timeout=60)[1] for r in readers]
    for seed, r, err in zip((1, 2), readers, errors, strict=True):
        assert r.returncode == 0, err
        report = json.loads((tmp_path / f"{seed}").read_text())
        assert min(report["searches"], report["refreshed"]) > 0, report
        for generation, live in report["seen"].items():
            assert committed[int(generation)] == live
    assert step >= 8  # the writer went through every operation at least twice
