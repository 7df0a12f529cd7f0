"""The bad-input sweep (issue 15): every public function, method and ``lateint`` command called
with wrong dtypes, ranks, dims, non-contiguous, read-only and memory-mapped arrays, NaN and inf,
empty inputs, bad ``k``, non-UTF-8 and empty texts, missing and wrong-type paths, an index of a
newer format version, broken model folders and training files (the table: tests/sweep_cases.py,
tests/sweep_cli_cases.py). Each bad input raises its typed error, its message starting with the
requirement it breaks and naming the value; each valid input at an edge gives its documented
answer; none panics, crashes or hangs: every case runs in a child process under a timeout
(tests/sweep_core.py), so that a segfault or a hang is caught and blamed on its case."""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sweep_cases
import sweep_cli_cases  # noqa: F401
from sweep_core import CASES, Case, GroupRun, Outcome, run_group_isolated

GROUPS = sorted({c.group for c in CASES}, key=[c.group for c in CASES].index)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case's outcome, groups run in parallel child processes."""
    tmp = tmp_path_factory.mktemp("sweep")
    counts = Counter(c.group for c in CASES)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        # the largest groups first, so that the slowest finish soonest
        order = sorted(GROUPS, key=lambda g: -counts[g])
        runs: list[GroupRun] = list(
            pool.map(lambda g: run_group_isolated(g, counts[g], tmp), order)
        )
    SECONDS[0] = time.perf_counter() - t0
    by_group = {r.name: r for r in runs}
    GROUP_SECONDS.update({r.name: r.seconds for r in runs})
    out = {}
    for g in GROUPS:
        for i, case in enumerate(c for c in CASES if c.group == g):
            out[case.id] = by_group[g].outcomes.get(i, Outcome(False, "no outcome"))
    return out


SECONDS = [0.0]
GROUP_SECONDS: dict[str, float] = {}


def _param(case: Case) -> object:
    marks = []
    if case.xfail is not None:
        marks.append(pytest.mark.xfail(reason=case.xfail, strict=True))
    if case.skip is not None:
        marks.append(pytest.mark.skip(reason=case.skip))
    if case.req is not None:
        marks.append(pytest.mark.spec(case.req))
    return pytest.param(case, id=case.id, marks=marks)


def test_case_ids_are_distinct() -> None:
    ids = Counter(c.id for c in CASES)
    assert [i for i, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case, outcomes: dict[str, Outcome]) -> None:
    """One row of the table: its typed error and requirement, or its documented answer."""
    outcome = outcomes[case.id]
    assert outcome.ok, outcome.detail


def test_every_public_entry_point_is_swept() -> None:
    """The table covers every public function, method and command (tests/sweep_cases.py
    ``PUBLIC``, checked there against the modules' public names)."""
    entries = {c.entry for c in CASES}
    missing = sorted(set(sweep_cases.public_entry_points()) - entries)
    assert missing == []
    unlisted = sorted(set(sweep_cases.discovered_entry_points()) - set(sweep_cases.PUBLIC))
    assert unlisted == [], "public callables the sweep does not list (PUBLIC or NOT_SWEPT)"


def test_print_table(outcomes: dict[str, Outcome], capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the table: entry point, cases, passed, xfail (a defect left open), skipped (a
    case this machine cannot make)."""
    rows: dict[str, list[int]] = {}
    for c in CASES:
        row = rows.setdefault(c.entry, [0, 0, 0, 0])
        row[0] += 1
        if c.skip is not None:
            row[3] += 1
        elif c.xfail is not None:
            row[2] += 1
        else:
            row[1] += outcomes[c.id].ok
    width = max(len(e) for e in rows)
    lines = [f"{'entry point':<{width}}  cases  passed  xfail  skipped"]
    lines += [f"{e:<{width}}  {n:5}  {p:6}  {x:5}  {k:7}" for e, (n, p, x, k) in rows.items()]
    total = [sum(r[i] for r in rows.values()) for i in range(4)]
    head = f"{len(rows)} entry points"
    lines.append(f"{head:<{width}}  {total[0]:5}  {total[1]:6}  {total[2]:5}  {total[3]:7}")
    groups = ", ".join(f"{g} {s:.1f} s" for g, s in GROUP_SECONDS.items())
    lines.append(
        f"(child processes, {len(GROUP_SECONDS)} groups in parallel: {SECONDS[0]:.1f} s; {groups})"
    )
    with capsys.disabled():
        print("\n\nbad-input sweep:\n" + "\n".join(lines))
