"""A one-line progress report on stderr for long work (index builds); silent when stderr is not a
terminal unless asked for."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``label: stage done/total pct (elapsed)`` on one refreshed stderr line, or
    ``label: stage done (elapsed)`` when the total is not known (None).

    The native builders call it between steps of a few milliseconds (R-INDEX-8); the line is
    refreshed at most every ``REFRESH`` seconds, and always at the start and end of a stage.

    Args:
        label: what is being done, e.g. ``"building index"``.
        enabled: True or False; None shows it only when stderr is a terminal.
    """

    REFRESH = 0.1

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.start = time.perf_counter()
        self.shown = False
        self.stage = ""
        self.last = -self.REFRESH
        self.pending: str | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if total is None:
            line = f"\r{self.label}: {stage} {done} ({elapsed:.1f} s)"
        else:
            pct = f"{100 * done / total:5.1f}%" if total else ""
            line = f"\r{self.label}: {stage} {done}/{total} {pct} ({elapsed:.1f} s)"
        if stage == self.stage and done != total and now - self.last < self.REFRESH:
            self.pending = line  # shown by the next refresh, or by close
            return
        self.stage, self.last = stage, now
        self._show(line)

    def _show(self, line: str) -> None:
        print(line.ljust(72), end="", file=sys.stderr, flush=True)
        self.shown, self.pending = True, None

    def close(self) -> None:
        """Shows the last report if a refresh skipped it, then ends the line (when anything was
        shown)."""
        if self.pending is not None:
            self._show(self.pending)
        if self.shown:
            print(file=sys.stderr, flush=True)
            self.shown = False
