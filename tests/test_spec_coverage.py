"""The code cites only requirement IDs that exist, and the spec-coverage plugin
(tests/spec_plugin.py) counts a requirement only when a test declaring it passed.

That every requirement has a passing test is checked by the plugin itself over the whole run
(``pytest --spec-coverage``, as ``make test`` runs it); the tests here run the plugin on a small
project of their own, to show that it fails when it should."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from spec_plugin import defined_requirements

ROOT = Path(__file__).resolve().parent.parent
ID = re.compile(r"R-[A-Z]+-\d+")


def _ids(paths: list[Path]) -> set[str]:
    return {m for p in paths for m in ID.findall(p.read_text())}


def test_code_cites_only_defined_requirements() -> None:
    spec = defined_requirements()
    assert len(spec) >= 17
    code = [*(ROOT / "rust").rglob("*.rs"), *(ROOT / "lateint_ref").rglob("*.py")]
    unknown = _ids(code) - spec
    assert not unknown, f"code cites undefined requirements: {sorted(unknown)}"


SPEC_MD = """# A spec
**R-AB-1 (one).** Passes.
**R-AB-2 (two).** Only a skipped test.
**R-AB-3 (three).** Only an xfailed test.
**R-AB-4 (four).** One case of a parametrised test.
Not a definition: R-AB-9 (the line does not start with it).
"""

TESTS = """
import pytest

pytestmark = pytest.mark.spec("R-AB-1")

def test_plain():
    pass

@pytest.mark.spec("R-AB-2")
@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.mark.spec("R-AB-3")
@pytest.mark.xfail(reason="known")
def test_xfailed():
    raise AssertionError

@pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.spec("R-AB-4"))])
def test_cases(x):
    pass
"""


def _project(tmp_path: Path, tests: str = TESTS) -> Path:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "a.md").write_text(SPEC_MD)
    (tmp_path / "pytest.ini").write_text("[pytest]\nspec_dir = spec\naddopts = --strict-markers\n")
    (tmp_path / "test_a.py").write_text(tests)
    return tmp_path


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests"), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "spec_plugin", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _summary(result: subprocess.CompletedProcess) -> str:
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("spec coverage: ")]
    return line


def test_skipped_and_xfailed_tests_cover_nothing(tmp_path: Path) -> None:
    result = _pytest(_project(tmp_path), "--spec-coverage")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "3 passed, 1 skipped, 1 xfailed" in result.stdout
    line = _summary(result)
    assert line.startswith("spec coverage: 2 of 4 requirements have a passing test"), line
    assert line.endswith("FAILED, no passing test: R-AB-2, R-AB-3"), line


def test_without_the_option_the_summary_only_informs(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = _pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not enforced without --spec-coverage" in _summary(result)
    # A subset: what it did not select is uncovered, and the run passes.
    result = _pytest(project, "-k", "plain")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary(result).startswith("spec coverage: 1 of 4 requirements")


def test_every_requirement_passing_passes(tmp_path: Path) -> None:
    tests = TESTS.replace('@pytest.mark.skip(reason="not here")\n', "").replace(
        '@pytest.mark.xfail(reason="known")\ndef test_xfailed():\n    raise AssertionError',
        "def test_xfailed():\n    pass",
    )
    result = _pytest(_project(tmp_path, tests), "--spec-coverage")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary(result).startswith("spec coverage: 4 of 4 requirements have a passing test")


def test_a_failing_test_covers_nothing(tmp_path: Path) -> None:
    # R-AB-1 only on a failing test; R-AB-2 and R-AB-3 also on a failing one.
    tests = TESTS.replace('pytestmark = pytest.mark.spec("R-AB-1")', "")
    tests += '\n@pytest.mark.spec("R-AB-1", "R-AB-2", "R-AB-3")\ndef test_fails():\n    assert 0\n'
    result = _pytest(_project(tmp_path, tests), "--spec-coverage")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _summary(result).endswith("no passing test: R-AB-1, R-AB-2, R-AB-3"), result.stdout


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('"R-AB-9"', "names R-AB-9, which"),
        ('"R-AB-1", "R-XY-2"', "names R-XY-2, which"),
        ("", "must name requirement IDs"),
        ('"R-AB-1 R-AB-2"', "must name requirement IDs"),
        ('"r-ab-1"', "must name requirement IDs"),
    ],
)
def test_a_marker_must_name_defined_ids(tmp_path: Path, marker: str, message: str) -> None:
    tests = TESTS + f"\n@pytest.mark.spec({marker})\ndef test_bad():\n    pass\n"
    # An error at collection, even when the test is not selected.
    result = _pytest(_project(tmp_path, tests), "-k", "plain")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "test_a.py::test_bad: " in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    assert "passed" not in result.stdout
