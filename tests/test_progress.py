"""The progress line (lateint_ref/progress.py): refreshed at most every REFRESH seconds, yet the
last report of a run is always the one left on the line."""

from __future__ import annotations

import pytest

from lateint_ref.progress import Progress


def test_reports_inside_a_refresh_are_skipped_but_the_last_is_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = Progress("work", enabled=True)
    for done in range(1, 6):  # well inside one refresh interval
        p("items", done, None)
    p.close()
    lines = [s.strip() for s in capsys.readouterr().err.split("\r") if s.strip()]
    assert lines[0].startswith("work: items 1 (")
    assert lines[-1].startswith("work: items 5 (")
    assert len(lines) < 5  # throttled


def test_a_finished_stage_is_always_shown(capsys: pytest.CaptureFixture[str]) -> None:
    p = Progress("work", enabled=True)
    p("write", 0, 3)
    p("write", 1, 3)
    p("write", 3, 3)
    p.close()
    assert "write 3/3 100.0%" in capsys.readouterr().err


def test_disabled_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    p = Progress("work", enabled=False)
    p("items", 1, 2)
    p.close()
    assert capsys.readouterr().err == ""
