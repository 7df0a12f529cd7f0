"""Case results and the per-requirement report of the conformance kit (spec/README.md).

A check yields one ``Case`` per vector case and requirement; ``Report`` groups them by
requirement into rows (cases, passed, skipped, worst error, first failing case) and prints them as
a table or as JSON. Only NumPy-free standard library code: the report of a run is plain data.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

_ID = re.compile(r"R-([A-Z]+)-(\d+)")


@dataclass
class Case:
    """One checked case.

    ``requirement``: the spec requirement it checks (``R-MAXSIM-10``); ``case``: its name in the
    vectors (``random_unit/random-3-q17-d17``); ``passed``: None when skipped; ``error``: the
    measured error (absolute, or relative where the requirement says so; None when not a number);
    ``tolerance``: the bound the error was held to; ``detail``: why it failed or was skipped.
    """

    requirement: str
    case: str
    passed: bool | None
    error: float | None = None
    tolerance: float | None = None
    detail: str = ""


def _sort_key(requirement: str) -> tuple[str, int, str]:
    m = _ID.fullmatch(requirement)
    return (m.group(1), int(m.group(2)), "") if m else ("~", 0, requirement)


@dataclass
class Row:
    """The cases of one requirement."""

    requirement: str
    cases: int = 0
    passed: int = 0
    skipped: int = 0
    worst_error: float | None = None
    tolerance: float | None = None
    first_failure: str | None = None
    first_failure_detail: str = ""
    skip_reason: str = ""

    @property
    def failed(self) -> int:
        return self.cases - self.passed - self.skipped


@dataclass
class Report:
    """All cases of one run of one area against one implementation."""

    area: str
    implementation: str
    spec_versions: dict[str, Any] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)

    def add(self, case: Case) -> None:
        self.cases.append(case)

    def rows(self) -> list[Row]:
        """One row per requirement, in requirement order."""
        rows: dict[str, Row] = {}
        for c in self.cases:
            row = rows.setdefault(c.requirement, Row(c.requirement))
            row.cases += 1
            if c.passed is None:
                row.skipped += 1
                row.skip_reason = row.skip_reason or c.detail
                continue
            if c.passed:
                row.passed += 1
            elif row.first_failure is None:
                row.first_failure, row.first_failure_detail = c.case, c.detail
            if c.error is not None and (row.worst_error is None or _worse(c, row)):
                row.worst_error, row.tolerance = c.error, c.tolerance
        return sorted(rows.values(), key=lambda r: _sort_key(r.requirement))

    @property
    def failed(self) -> bool:
        """Whether any case failed (skipped cases do not fail a run)."""
        return any(c.passed is False for c in self.cases)

    def to_json(self) -> dict[str, Any]:
        """The report as plain data: rows and every case."""
        return {
            "area": self.area,
            "implementation": self.implementation,
            "spec_versions": self.spec_versions,
            "passed": not self.failed,
            "rows": [
                {
                    "requirement": r.requirement,
                    "cases": r.cases,
                    "passed": r.passed,
                    "failed": r.failed,
                    "skipped": r.skipped,
                    "worst_error": _json_float(r.worst_error),
                    "tolerance": _json_float(r.tolerance),
                    "first_failure": r.first_failure,
                    "first_failure_detail": r.first_failure_detail,
                    "skip_reason": r.skip_reason,
                }
                for r in self.rows()
            ],
            "cases": [
                {
                    "requirement": c.requirement,
                    "case": c.case,
                    "passed": c.passed,
                    "error": _json_float(c.error),
                    "tolerance": _json_float(c.tolerance),
                    "detail": c.detail,
                }
                for c in self.cases
            ],
        }

    def table(self) -> str:
        """The per-requirement table as text (Markdown-compatible)."""
        head = ["requirement", "cases", "passed", "worst error", "tolerance", "first failing case"]
        lines = []
        for r in self.rows():
            passed = f"{r.passed}" + (f" ({r.skipped} skipped)" if r.skipped else "")
            failing = r.first_failure or ""
            if r.first_failure_detail:
                failing += f": {r.first_failure_detail}"
            elif r.skipped and not r.passed and not r.failed:
                failing = f"skipped: {r.skip_reason}"
            lines.append(
                [
                    r.requirement,
                    str(r.cases),
                    passed,
                    _fmt(r.worst_error),
                    _fmt(r.tolerance),
                    failing,
                ]
            )
        out = [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
        out += [f"| {' | '.join(cell.replace('|', '/') for cell in line)} |" for line in lines]
        versions = ", ".join(f"{k} v{v}" for k, v in self.spec_versions.items())
        verdict = "FAIL" if self.failed else "PASS"
        title = f"{self.area}: {self.implementation} ({versions}): {verdict}"
        return "\n".join([title, "", *out])


def _ratio(error: float, tolerance: float | None) -> float:
    """The error in units of its tolerance (NaN counts as the worst)."""
    if math.isnan(error):
        return math.inf
    if tolerance is None:
        return error
    if tolerance == 0:
        return math.inf if error > 0 else 0.0
    return error / tolerance


def _worse(case: Case, row: Row) -> bool:
    """Whether ``case`` is further from its tolerance than the row's worst so far (cases of one
    requirement can have different tolerances, as the per-score bounds of R-MAXSIM-10)."""
    assert row.worst_error is not None
    assert case.error is not None
    return _ratio(case.error, case.tolerance) > _ratio(row.worst_error, row.tolerance)


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if x == 0:
        return "0"
    return f"{x:.3g}"


def _json_float(x: float | None) -> float | str | None:
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def dumps(reports: list[Report]) -> str:
    """JSON text of one or more reports."""
    data = [r.to_json() for r in reports]
    return json.dumps(data[0] if len(data) == 1 else data, indent=1, allow_nan=False)
