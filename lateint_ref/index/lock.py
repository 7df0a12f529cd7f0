"""Waiting for a writer's lock (spec/index.md R-INDEX-14). Every writer takes its lock without
blocking (``flock`` with ``LOCK_NB``: the native index writer on ``LOCK``, the retriever on its
folder) and raises ``IndexLockedError`` when another process holds it; ``retrying`` polls that
attempt until it succeeds or ``lock_timeout`` seconds have passed. Polling from Python keeps the
wait interruptible (Ctrl-C) and never blocks inside native code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lateint_ref import _checks
from lateint_ref.errors import IndexLockedError

T = TypeVar("T")

# Seconds between two attempts: short against a commit, long against a system call.
POLL_S = 0.02


def retrying(attempt: Callable[[], T], lock_timeout: float | None) -> T:
    """``attempt()``, tried again every ``POLL_S`` while it raises ``IndexLockedError``: at most
    ``lock_timeout`` seconds (0: once), or until it succeeds (None). The last error is raised,
    naming the time waited."""
    timeout = _checks.lock_timeout(lock_timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except IndexLockedError as exc:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if timeout:
                    raise IndexLockedError(f"{exc} (waited lock_timeout={timeout} s)") from None
                raise
            time.sleep(POLL_S if deadline is None else min(POLL_S, deadline - now))
