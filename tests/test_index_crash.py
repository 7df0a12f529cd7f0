"""A writer killed by SIGKILL at a random point: a first commit that did not happen leaves a folder
an index is created into (R-INDEX-13), and a killed delete, upsert or compaction leaves the index
at its last commit or the one in flight, every checksum valid (R-INDEX-6, R-INDEX-10..12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CRASH_TRIALS

from lateint_ref import Index, InputError

ROOT = Path(__file__).resolve().parent.parent

_CREATE = """
import sys, numpy as np
from lateint_ref import Index
rng = np.random.default_rng(0)
docs = rng.standard_normal((3000, 16, 16)).astype(np.float32)
print("start", flush=True)
Index.create(sys.argv[1], docs, seed=1, kmeans_iters=8)
print("done", flush=True)
"""

# Each operation prints the live ids it will commit, then, once it has returned, "ok".
_CHANGES = """
import json, sys, numpy as np
from lateint_ref import Index
rng = np.random.default_rng(int(sys.argv[2]))
index = Index.open(sys.argv[1])
for step in range(400):
    live = index.live_ids
    op = step % 4
    if op == 0:
        gone = [int(x) for x in rng.choice(live, 3, replace=False)]
        print(json.dumps([x for x in live if x not in gone]), flush=True)
        index = index.delete(gone)
    elif op == 1:
        new = rng.standard_normal((3, 4, 8)).astype(np.float32)
        ids = [*(int(x) for x in rng.choice(live, 2, replace=False)), 10_000 + step]
        print(json.dumps([x for x in live if x not in ids] + ids), flush=True)
        index = index.add(list(new), ids=ids, upsert=True)
    elif op == 2:
        print(json.dumps(live), flush=True)
        index = index.compact()
    else:
        ids = [20_000 + 2 * step, 20_001 + 2 * step]
        print(json.dumps(live + ids), flush=True)
        index = index.add(list(rng.standard_normal((2, 3, 8)).astype(np.float32)), ids=ids)
    print("ok", flush=True)
"""


def _child(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAYON_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


@pytest.mark.spec("R-INDEX-13")
@pytest.mark.parametrize("trial", range(CRASH_TRIALS))
def test_killed_first_commit_leaves_a_folder_to_create_into(tmp_path: Path, trial: int) -> None:
    """R-INDEX-13: a child killed at a random point of Index.create leaves a folder that is
    either a committed index or one a rerun of create builds into (the leftovers removed)."""
    path = tmp_path / "index"
    rng = np.random.default_rng(trial)
    child = _child(_CREATE, str(path))
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "start"
    time.sleep(float(rng.uniform(0.0, 0.45)))  # create takes about 0.5 s
    child.kill()
    child.wait()
    child.stdout.close()
    if (path / "MANIFEST").exists():
        assert len(Index.open(path)) == 3000
        return
    docs = np.random.default_rng(5).standard_normal((20, 3, 16)).astype(np.float32)
    index = Index.create(path, docs, seed=1)
    assert len(index) == 20
    assert sorted(p.name for p in path.iterdir()) == [
        "LOCK",
        "MANIFEST",
        "codec-1.lti",
        "segment-1.lti",
    ]


@pytest.mark.spec("R-INDEX-6", "R-INDEX-13")
def test_folder_with_foreign_files_is_still_refused(tmp_path: Path) -> None:
    """R-INDEX-13, R-INDEX-6: leftovers of a first commit are removed, but a folder holding any
    other file is refused and left as it was."""
    docs = np.random.default_rng(5).standard_normal((20, 3, 8)).astype(np.float32)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "LOCK").write_bytes(b"")
    (tmp_path / "a" / "codec-1.lti.tmp").write_bytes(b"partial")
    assert len(Index.create(tmp_path / "a", docs)) == 20
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "LOCK").write_bytes(b"")
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="R-INDEX-6"):
        Index.create(tmp_path / "b", docs)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["LOCK", "notes.txt"]


@pytest.mark.spec("R-INDEX-6", "R-INDEX-10", "R-INDEX-11", "R-INDEX-12")
@pytest.mark.parametrize("trial", range(CRASH_TRIALS))
def test_killed_changes_leave_the_last_commit(tmp_path: Path, trial: int) -> None:
    """R-INDEX-6, R-INDEX-10, R-INDEX-11, R-INDEX-12: a child deleting, upserting, adding and
    compacting is killed at a random point; the index opens (every file checked), holds the live
    ids of its last acknowledged commit or of the one in flight, and accepts further changes."""
    path = tmp_path / "index"
    rng = np.random.default_rng(100 + trial)
    docs = rng.standard_normal((60, 4, 8)).astype(np.float32)
    Index.create(path, list(docs), seed=trial)
    child = _child(_CHANGES, str(path), str(trial))
    assert child.stdout is not None
    states = [list(range(60))]  # the live ids of generation 1, 2, ...
    acked = 1  # generations known committed
    deadline = time.monotonic() + float(rng.uniform(0.2, 1.0))
    lines = []
    while time.monotonic() < deadline:  # read as it runs, so that it never waits on the pipe
        line = child.stdout.readline()
        if not line:
            break
        lines.append(line)
    child.kill()
    child.wait()
    lines.extend(child.stdout)  # what it printed before the kill, after the last read
    child.stdout.close()
    for line in (x.strip() for x in lines):
        if line == "ok":
            acked += 1
        elif line:
            states.append(json.loads(line))
    index = Index.open(path)  # every file's length and CRCs checked (R-INDEX-2)
    # The last acknowledged commit, or the one in flight (committed before its "ok").
    assert index.generation in (acked, acked + 1)
    assert index.generation <= len(states)
    assert index.live_ids == states[index.generation - 1]
    q = rng.standard_normal((2, 3, 8)).astype(np.float32)
    for hits in index.search(q, k=5, exhaustive=True):
        assert set(hits.ids) <= set(index.live_ids)
    assert index.delete([index.live_ids[0]]).n_live == index.n_live - 1


@pytest.mark.spec("R-INDEX-12")
def test_readers_open_while_a_writer_deletes_and_compacts(tmp_path: Path) -> None:
    """R-INDEX-12: while another process deletes, upserts and compacts (removing the files its
    commits no longer name), every Index.open succeeds, on the commit it found or a newer one,
    and its search works."""
    path = tmp_path / "index"
    docs = np.random.default_rng(7).standard_normal((60, 4, 8)).astype(np.float32)
    Index.create(path, list(docs), seed=0)
    child = _child(_CHANGES, str(path), "7")
    assert child.stdout is not None
    # Drained, so that the writer never blocks on a full pipe.
    drain = threading.Thread(target=child.stdout.read, daemon=True)
    try:
        assert child.stdout.readline()  # the writer has started
        drain.start()
        q = docs[:2, :2]
        opened = set()
        deadline = time.monotonic() + 2.5  # a few hundred commits, thousands of opens
        while time.monotonic() < deadline and child.poll() is None:
            index = Index.open(path)
            opened.add(index.generation)
            assert len(index.search(q, k=3, exhaustive=True)) == 2
    finally:
        child.kill()
        child.wait()
        if drain.is_alive():
            drain.join()
        child.stdout.close()
    assert len(opened) > 3
