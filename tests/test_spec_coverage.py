"""Every requirement ID of the spec is cited by at least one test, and the code cites only IDs
that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ID = re.compile(r"R-[A-Z]+-\d+")


def _ids(paths: list[Path]) -> set[str]:
    return {m for p in paths for m in ID.findall(p.read_text())}


def _spec_ids() -> set[str]:
    defined = re.compile(r"^\*\*(R-[A-Z]+-\d+) ", re.MULTILINE)
    return {m for p in (ROOT / "spec").glob("*.md") for m in defined.findall(p.read_text())}


def test_every_requirement_is_tested() -> None:
    spec = _spec_ids()
    assert len(spec) >= 17
    tests = [*sorted((ROOT / "tests").glob("test_*.py")), ROOT / "spec" / "vectors" / "maxsim.json"]
    untested = spec - _ids(tests)
    assert not untested, f"requirements no test cites: {sorted(untested)}"


def test_code_cites_only_defined_requirements() -> None:
    code = [*(ROOT / "rust").rglob("*.rs"), *(ROOT / "lateint_ref").rglob("*.py")]
    unknown = _ids(code) - _spec_ids()
    assert not unknown, f"code cites undefined requirements: {sorted(unknown)}"
