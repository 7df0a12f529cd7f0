"""The one place where arguments are checked: integers (Python or NumPy, never ``bool``), thread
counts, ``k``. Every failure is an ``InputError`` whose message starts with the requirement it
breaks and names the bad value: ``R-SEARCH-2: k must be an integer >= 1, got 0``."""

from __future__ import annotations

import math
import numbers
from typing import Any

from lateint_ref.errors import InputError

MAX_THREADS = 1024
# Native code takes i64: larger values are clamped to this before being passed, which keeps their
# meaning ("more than anything") while the native range checks report them.
NATIVE_MAX = 2**62


def is_int(x: Any) -> bool:
    """An integer of Python or NumPy, but not a ``bool``."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def integer(x: Any, name: str, rule: str, lo: int | None = None, hi: int | None = None) -> int:
    """``x`` as an ``int`` in ``lo..=hi`` (either bound optional)."""
    if lo is not None and hi is not None:
        bound = f" in {lo}..={hi}"
    elif lo is not None:
        bound = f" >= {lo}"
    elif hi is not None:
        bound = f" <= {hi}"
    else:
        bound = ""
    if not is_int(x) or (lo is not None and int(x) < lo) or (hi is not None and int(x) > hi):
        raise InputError(f"{rule}: {name} must be an integer{bound}, got {x!r}")
    return int(x)


def optional_integer(x: Any, name: str, rule: str, lo: int, hi: int | None = None) -> int | None:
    """None, or ``integer(x, ...)``."""
    return None if x is None else integer(x, name, rule, lo, hi)


def positive(x: Any, name: str, rule: str) -> int:
    """An integer >= 1."""
    return integer(x, name, rule, 1)


def threads(x: Any) -> int | None:
    """R-MAXSIM-13: None (every core) or an integer in 1..=1024."""
    if x is None:
        return None
    if not is_int(x) or not 1 <= int(x) <= MAX_THREADS:
        raise InputError(
            f"R-MAXSIM-13: threads must be an integer in 1..={MAX_THREADS} or None, got {x!r}"
        )
    return int(x)


def k(x: Any) -> int:
    """R-SEARCH-2: results per query, an integer >= 1, clamped into the native range."""
    return min(integer(x, "k", "R-SEARCH-2", 1), NATIVE_MAX)


def clamped(x: Any, name: str, rule: str) -> int:
    """An integer passed to native code, which checks its range: clamped into i64."""
    if not is_int(x):
        raise InputError(f"{rule}: {name} must be an integer, got {x!r}")
    return max(min(int(x), NATIVE_MAX), -NATIVE_MAX)


def positive_real(x: Any, name: str, rule: str) -> float:
    """A finite real number > 0 (Python or NumPy, integers included, never ``bool``)."""
    if (
        isinstance(x, bool)
        or not isinstance(x, numbers.Real)
        or not math.isfinite(float(x))
        or float(x) <= 0
    ):
        raise InputError(f"{rule}: {name} must be a finite number > 0, got {x!r}")
    return float(x)


def is_rate(x: Any) -> bool:
    """A real number (Python or NumPy, integers included, never ``bool``) in ``[0, 1)``: a
    dropout rate."""
    return (
        not isinstance(x, bool)
        and isinstance(x, numbers.Real)
        and math.isfinite(float(x))
        and 0 <= float(x) < 1
    )


def rate(x: Any, name: str, rule: str) -> float:
    """A dropout rate (``is_rate``) as a ``float``."""
    if not is_rate(x):
        raise InputError(f"{rule}: {name} must be a number in [0, 1), got {x!r}")
    return float(x)


def choice(x: Any, name: str, rule: str, allowed: tuple[str, ...]) -> str:
    """One of the strings ``allowed``."""
    if not isinstance(x, str) or x not in allowed:
        raise InputError(f"{rule}: {name} must be one of {allowed}, got {x!r}")
    return x


def flag(x: Any, name: str, rule: str) -> bool:
    """True or False, nothing else."""
    if not isinstance(x, bool):
        raise InputError(f"{rule}: {name} must be True or False, got {x!r}")
    return x


def lock_timeout(x: Any) -> float | None:
    """R-INDEX-14: seconds a writer waits for the lock: a finite number >= 0 (0: fail at once),
    or None (wait as long as it takes)."""
    if x is None:
        return None
    if (
        isinstance(x, bool)
        or not isinstance(x, numbers.Real)
        or not math.isfinite(float(x))
        or float(x) < 0
    ):
        raise InputError(
            f"R-INDEX-14: lock_timeout must be a finite number >= 0 or None, got {x!r}"
        )
    return float(x)
