"""Spec coverage: every requirement of spec/*.md has a test that ran and passed.

A requirement is defined by a line of spec/*.md that starts ``**R-AREA-n `` (``**R-INDEX-3 ``).
A test declares the requirements it checks with the ``spec`` marker::

    @pytest.mark.spec("R-INDEX-3", "R-INDEX-5")
    def test_manifest_names_every_file(): ...

``pytestmark = pytest.mark.spec(...)`` declares them for every test of a module, and
``pytest.param(..., marks=pytest.mark.spec(...))`` for one case of a parametrised test; the IDs
of a test are those of all its markers. A test claims only what it checks: an ID mentioned in
passing (a comment on other behaviour, a helper's reference) is no claim.

The rules this plugin enforces:

- A marker with no ID, with an argument that is not an ID, or naming an ID that spec/*.md does
  not define, is an error at collection (pytest stops with a usage error, exit status 4), whatever
  tests are selected.
- A requirement is covered when a test declaring it ran and passed: its call passed and no phase
  (setup, call, teardown) failed. Skipped, xfailed, failed and deselected tests cover nothing.
- Every run ends with a ``spec coverage:`` line: how many requirements have a passing test, and
  which do not. With ``--spec-coverage`` (what ``make test`` runs) a requirement without a
  passing test fails the run (exit status 1, the IDs listed); without it the line only informs,
  so that running a file, ``-k`` or ``-x`` does not fail for requirements it did not select.

The plugin is loaded by tests/conftest.py (``pytest_plugins``); the ini option ``spec_dir``
(relative to the rootdir) points it at another spec folder, for its own tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ID = re.compile(r"R-[A-Z]+-\d+")
DEFINED = re.compile(r"^\*\*(R-[A-Z]+-\d+) ", re.MULTILINE)
SPEC = Path(__file__).resolve().parent.parent / "spec"
MARKER = "spec(*ids): the requirement IDs of spec/*.md this test checks (tests/spec_plugin.py)"


def defined_requirements(spec: Path = SPEC) -> set[str]:
    """The requirement IDs that spec/*.md defines (lines starting ``**R-AREA-n ``)."""
    return {m for p in spec.glob("*.md") for m in DEFINED.findall(p.read_text())}


def _order(req: str) -> tuple[str, int]:
    area, n = req.rsplit("-", 1)
    return area, int(n)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spec coverage")
    group.addoption(
        "--spec-coverage",
        action="store_true",
        default=False,
        help="fail the run when a requirement of spec/*.md has no passing test (make test)",
    )
    parser.addini("spec_dir", "the spec folder, relative to the rootdir (default: spec/)", "string")


def pytest_configure(config: pytest.Config) -> None:
    if not any(
        line.split(":")[0].split("(")[0].strip() == "spec" for line in config.getini("markers")
    ):
        config.addinivalue_line("markers", MARKER)
    config.pluginmanager.register(SpecCoverage(config), "spec-coverage")


class SpecCoverage:
    """Records the IDs each collected test declares and which of those tests passed."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        folder = config.getini("spec_dir")
        self.folder = config.rootpath / folder if folder else SPEC
        self.spec = defined_requirements(self.folder)
        if not self.spec:
            raise pytest.UsageError(f"spec coverage: {self.folder} defines no requirement")
        self.enforce: bool = config.getoption("spec_coverage")
        self.declared: dict[str, set[str]] = {}
        self.passed: set[str] = set()
        self.failed: set[str] = set()
        self.collected = False
        self.uncovered: list[str] = []

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: every collected test is checked
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        errors = []
        for item in items:
            ids: set[str] = set()
            for mark in item.iter_markers(name="spec"):
                bad = [a for a in mark.args if not (isinstance(a, str) and ID.fullmatch(a))]
                if not mark.args or bad or mark.kwargs:
                    errors.append(f"{item.nodeid}: {mark} must name requirement IDs (R-AREA-n)")
                    continue
                unknown = sorted(set(mark.args) - self.spec, key=_order)
                if unknown:
                    errors.append(
                        f"{item.nodeid}: @pytest.mark.spec names {', '.join(unknown)}, "
                        f"which {self.folder}/*.md does not define"
                    )
                ids |= set(mark.args)
            if ids:
                self.declared[item.nodeid] = ids
        if errors:
            raise pytest.UsageError("spec markers:\n" + "\n".join(errors))
        self.collected = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.declared:
            return
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.when == "call" and report.passed and not hasattr(report, "wasxfail"):
            self.passed.add(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.collected or self.config.getoption("collectonly"):
            return
        covered = {i for n in self.passed - self.failed for i in self.declared[n]}
        self.uncovered = sorted(self.spec - covered, key=_order)
        if (
            self.enforce
            and self.uncovered
            and session.exitstatus
            in (
                pytest.ExitCode.OK,
                pytest.ExitCode.NO_TESTS_COLLECTED,
            )
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.collected or self.config.getoption("collectonly"):
            return
        n = len(self.spec)
        line = (
            f"spec coverage: {n - len(self.uncovered)} of {n} requirements have a passing test "
            f"({len(self.passed - self.failed)} of {len(self.declared)} declaring tests passed)"
        )
        if not self.uncovered:
            terminalreporter.write_line(line, green=True)
        elif self.enforce:
            missing = ", ".join(self.uncovered)
            terminalreporter.write_line(f"{line}; FAILED, no passing test: {missing}", red=True)
        else:
            missing = (
                ", ".join(self.uncovered) if self.config.option.verbose > 0 else "-v lists them"
            )
            terminalreporter.write_line(
                f"{line}; not enforced without --spec-coverage ({missing})", yellow=True
            )
