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


def duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"`` or ``"2 h 07 min"``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class DocumentProgress:
    """Documents done out of a known total, with the rate and the time left, on stderr
    (R-RET-1): on a terminal one line refreshed as documents are encoded, with the stage in
    progress; elsewhere (a log file, a pipe) one line per committed chunk, never a ``\\r``.

    Args:
        label: e.g. ``"indexing"``.
        total: the documents the run will encode.
        enabled: True or False; None shows it only when stderr is a terminal.
        terminal: whether to refresh one line; None asks stderr.
    """

    def __init__(
        self, label: str, total: int, enabled: bool | None, terminal: bool | None = None
    ) -> None:
        tty = sys.stderr.isatty()
        self.enabled = tty if enabled is None else bool(enabled)
        self.terminal = tty if terminal is None else bool(terminal)
        self.label, self.total = label, total
        self.start = time.perf_counter()
        self.last = -Progress.REFRESH
        self.shown = False

    def _status(self, done: int) -> str:
        elapsed = time.perf_counter() - self.start
        pct = f" ({100 * done / self.total:.1f}%)" if self.total else ""
        text = f"{self.label}: {done:,}/{self.total:,} documents{pct}"
        if done and elapsed > 0:
            rate = done / elapsed
            text += f", {rate:,.1f}/s, {duration((self.total - done) / rate)} left"
        return text

    def __call__(self, done: int, stage: str, *, force: bool = False) -> None:
        """``done`` documents encoded so far, now ``stage``: the line refreshed on a terminal
        (at most every ``Progress.REFRESH`` seconds unless ``force``), nothing elsewhere."""
        if not (self.enabled and self.terminal):
            return
        now = time.perf_counter()
        if not force and now - self.last < Progress.REFRESH:
            return
        self.last = now
        line = f"\r{self._status(done)}: {stage}"
        print(line.ljust(80), end="", file=sys.stderr, flush=True)
        self.shown = True

    def committed(self, done: int) -> None:
        """A chunk ending at ``done`` documents is committed."""
        if not self.enabled:
            return
        if self.terminal:
            self(done, "committed", force=True)
            return
        elapsed = duration(time.perf_counter() - self.start)
        print(f"{self._status(done)}; committed after {elapsed}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Ends the refreshed line, when one was shown."""
        if self.shown:
            print(file=sys.stderr, flush=True)
            self.shown = False
