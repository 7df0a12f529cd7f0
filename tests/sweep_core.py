"""The machinery of the bad-input sweep (tests/test_bad_input_sweep.py): the case table, the
expectations a case declares, and the child process that runs one group of cases.

A case is one call of one public entry point (a function, a method or a ``lateint`` command)
with one bad or edge input. It declares either the typed error it must raise (a ``LateIntError``
subclass, ``InputError`` for bad arguments; ``FileNotFoundError`` for a missing path where the
spec says so), the requirement ID its message must start with and the fragments that name the
bad value, or, for a valid input at an edge, a check of the documented answer.

Cases run in child processes, one per group (``python tests/sweep_child.py``), each case under
``faulthandler.dump_traceback_later(..., exit=True)``: a segfault or a hang ends the child, and
the parent attributes it to the case that had started and not finished, then runs the rest of the
group in a new child. Results come back as JSON lines in a file, never through stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
TINY = SPEC / "vectors" / "encoder"
CASE_TIMEOUT = 30.0  # seconds: a case running longer is a hang


@dataclass(frozen=True)
class Cli:
    """What a ``lateint`` command run in-process gave."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Case:
    """One row of the table."""

    group: str  # the child process that runs it
    entry: str  # the public entry point: ``maxsim``, ``Index.search``, ``lateint search``
    name: str  # what is bad (or at the edge) about the input
    call: Callable[[Any], Any]  # given the group's fixtures
    error: type[BaseException] | None  # None: the call must return, and ``check`` its answer
    req: str | None  # the requirement ID the message must start with
    names: tuple[str, ...] = ()  # fragments of the message that name the bad value
    check: Callable[[Any], None] | None = None
    xfail: str | None = None  # a defect left open, with its reason
    skip: str | None = None  # a case this machine cannot make, with the reason

    @property
    def id(self) -> str:
        return f"{self.entry}: {self.name}"


CASES: list[Case] = []
_GROUP = ["?"]


def group(name: str) -> None:
    """The group of the cases registered next."""
    _GROUP[0] = name


def bad(
    entry: str,
    name: str,
    call: Callable[[Any], Any],
    error: type[BaseException],
    req: str | None,
    *names: str,
    xfail: str | None = None,
    skip: str | None = None,
) -> None:
    """A case that must raise ``error`` with a message starting with ``req:`` and containing
    every fragment of ``names``."""
    CASES.append(Case(_GROUP[0], entry, name, call, error, req, tuple(names), None, xfail, skip))


def edge(
    entry: str,
    name: str,
    call: Callable[[Any], Any],
    check: Callable[[Any], None],
    *,
    req: str | None = None,
    xfail: str | None = None,
) -> None:
    """A valid input at an edge: the call must return, and ``check`` asserts the documented
    answer (of requirement ``req``, when given: the table's spec marker)."""
    CASES.append(Case(_GROUP[0], entry, name, call, None, req, (), check, xfail))


FAST_COMMANDS = ("index", "add", "search", "eval", "encode", "mine")


def lateint(*argv: object) -> Cli:
    """Runs ``lateint ARGV`` in this process through the entry point's ``main``, stdout and
    stderr captured (commands that encode get ``--backend numpy`` unless one is given)."""
    from lateint_ref.cli.entry import main

    args = [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in argv]
    command = next((a for a in args if a in FAST_COMMANDS), None)
    if command and not {"--backend", "--help"} & set(args):
        args += ["--backend", "numpy"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # main must not raise it, but keep the answer readable
            code = exc.code if isinstance(exc.code, int) else 1
            err.write(f"\n<SystemExit escaped main: {exc.code!r}>")
    return Cli(code, out.getvalue(), err.getvalue())


def cli_bad(
    command: str,
    name: str,
    argv: Callable[[Any], list[object]],
    req: str,
    *names: str,
    code: int | None = None,
    xfail: str | None = None,
) -> None:
    """``lateint COMMAND ...`` must fail: exit code not 0 (``code`` when given), one
    ``lateint: error:`` line citing ``req`` (at its start, or after a hint in parentheses) and
    naming ``names``, no traceback."""

    def call(fx: Any) -> Cli:
        return lateint(command, *argv(fx))

    def check(r: Cli) -> None:
        assert r.code != 0, f"exit 0; stdout {r.stdout[-500:]!r}"
        if code is not None:
            assert r.code == code, f"exit {r.code}, expected {code}: {r.stderr[-500:]!r}"
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        lines = [line for line in r.stderr.splitlines() if line.startswith("lateint: error: ")]
        assert len(lines) == 1, f"{len(lines)} error lines: {r.stderr[-1000:]!r}"
        message = lines[0].removeprefix("lateint: error: ")
        assert re.search(rf"(^|\(){re.escape(req)}:", message), f"no {req}: {message!r}"
        for fragment in names:
            assert fragment in message, f"{fragment!r} not named: {message!r}"

    # ``req`` is kept for the table's spec marker; the call returns, so ``judge`` runs ``check``
    CASES.append(Case(_GROUP[0], f"lateint {command}", name, call, None, req, (), check, xfail))


def cli_ok(
    command: str, name: str, argv: Callable[[Any], list[object]], check: Callable[[Cli], None]
) -> None:
    """``lateint COMMAND ...`` at an edge must succeed, its output checked."""

    def call(fx: Any) -> Cli:
        return lateint(command, *argv(fx))

    def checked(r: Cli) -> None:
        assert r.code == 0, f"exit {r.code}: {r.stderr[-1000:]!r}"
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        check(r)

    CASES.append(Case(_GROUP[0], f"lateint {command}", name, call, None, None, (), checked))


# ------------------------------------------------------------------------- running one case


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) < 300 else text[:300] + "..."


def judge(case: Case, fx: Any) -> tuple[bool, str]:
    """Runs ``case``; ``(passed, what happened)``."""
    try:
        result = case.call(fx)
    except BaseException as exc:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        message = str(exc)
        got = f"{kind}: {message[:500]}"
        if type(exc).__name__ == "PanicException":
            return False, f"a Rust panic: {got}"
        if case.error is None:
            tail = "".join(traceback.format_exception(exc)[-3:])
            return False, f"raised {got}\n{tail}"
        if not isinstance(exc, case.error):
            tail = "".join(traceback.format_exception(exc)[-3:])
            return False, f"expected {case.error.__name__}, got {got}\n{tail}"
        if case.req is not None and not message.startswith(case.req + ":"):
            return False, f"message does not start with {case.req}: {message[:500]!r}"
        missing = [n for n in case.names if n not in message]
        if missing:
            return False, f"message does not name {missing}: {message[:500]!r}"
        return True, got
    if case.error is not None:
        return False, f"returned {_short(result)} instead of raising {case.error.__name__}"
    assert case.check is not None
    try:
        case.check(result)
    except Exception as exc:
        return False, f"wrong answer: {type(exc).__name__}: {exc}"[:1500]
    return True, f"returned {_short(result)[:200]}"


def run_group(name: str, tmp: Path, results: Path, start: int) -> None:
    """Runs cases ``start..`` of group ``name`` in this process, one JSON line per event in
    ``results``: ``{"start": i}`` before case ``i``, ``{"done": i, "ok", "detail", "s"}``
    after it."""
    import faulthandler

    import sweep_cases  # noqa: F401  (registers the cases)
    import sweep_cli_cases  # noqa: F401
    from sweep_fixtures import Fixtures

    cases = [c for c in CASES if c.group == name]
    fx = Fixtures(tmp)
    faulthandler.enable()
    with open(results, "a", encoding="utf-8") as out:
        for i in range(start, len(cases)):
            if cases[i].skip is not None:
                out.write(json.dumps({"done": i, "ok": True, "detail": "skipped", "s": 0}) + "\n")
                continue
            out.write(json.dumps({"start": i}) + "\n")
            out.flush()
            faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
            t0 = time.perf_counter()
            ok, detail = judge(cases[i], fx)
            seconds = time.perf_counter() - t0
            faulthandler.cancel_dump_traceback_later()
            out.write(json.dumps({"done": i, "ok": ok, "detail": detail, "s": seconds}) + "\n")
            out.flush()


@dataclass
class Outcome:
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class GroupRun:
    name: str
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of its child processes


def run_group_isolated(name: str, n_cases: int, tmp: Path) -> GroupRun:
    """Runs group ``name`` in child processes until every case has an outcome: a child that
    dies (a segfault, an abort, a hang past ``CASE_TIMEOUT``) is blamed on the case it had
    started, and a new child runs the cases after it."""
    import subprocess

    run = GroupRun(name)
    t0 = time.perf_counter()
    start, attempt = 0, 0
    env = {**os.environ, "PYTHONFAULTHANDLER": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    while start < n_cases:
        attempt += 1
        results = tmp / f"{name}-{attempt}.jsonl"
        stderr = tmp / f"{name}-{attempt}.stderr"
        work = tmp / f"{name}-{attempt}"
        work.mkdir(parents=True)
        with open(stderr, "wb") as err:
            proc = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "tests" / "sweep_child.py"),
                    name,
                    str(work),
                    str(results),
                    str(start),
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
                timeout=CASE_TIMEOUT * (n_cases - start) + 120,
                check=False,
            )
        started = None
        if results.exists():
            for line in results.read_text(encoding="utf-8").splitlines():
                event = json.loads(line)
                if "start" in event:
                    started = event["start"]
                else:
                    run.outcomes[event["done"]] = Outcome(event["ok"], event["detail"], event["s"])
                    started = None
        if proc.returncode == 0 and started is None:
            break
        tail = stderr.read_bytes().decode("utf-8", "replace")[-3000:]
        if started is None:  # died outside any case (an import, the fixtures)
            for i in range(start, n_cases):
                run.outcomes.setdefault(i, Outcome(False, f"child exit {proc.returncode}: {tail}"))
            break
        what = "hang" if "Timeout (" in tail else f"crash (exit {proc.returncode})"
        run.outcomes[started] = Outcome(False, f"{what}: {tail}", CASE_TIMEOUT)
        start = started + 1
    run.seconds = time.perf_counter() - t0
    return run
