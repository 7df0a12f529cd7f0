"""The exceptions of lateint-ref.

Every failure the library foresees is a ``LateIntError``. Bad input is an ``InputError``, which is
also a ``ValueError`` so that callers may catch the built-in. Messages start with the requirement
of ``spec/`` that the input broke, then name the bad value, e.g.
``R-MAXSIM-7: query dim 128 != document dim 96``.
"""


class LateIntError(Exception):
    """Root of every error raised by lateint-ref."""


class InputError(LateIntError, ValueError):
    """An argument breaks a requirement of the spec (shape, dtype, value)."""


class WeightsError(LateIntError):
    """A model folder cannot be loaded: a missing or malformed file, an unknown architecture,
    tensors of the wrong shape, or a tokenizer without the tokens the encoder needs."""


class IndexFormatError(LateIntError):
    """An index directory cannot be used: a file is missing, truncated, corrupted or inconsistent
    (spec/index.md R-INDEX-2). Never a ``ValueError``: the caller's arguments were fine."""


class IndexWriteError(LateIntError, OSError):
    """The operating system failed a write while an index was committed (R-INDEX-6); the files
    committed before it are untouched."""


class IndexLockedError(LateIntError):
    """Another writer holds the index folder's lock (spec/index.md R-INDEX-14): raised at once by
    default, or once ``lock_timeout`` seconds have passed. Not a ``ValueError``: the arguments
    were fine, and the same call succeeds once the other writer is done."""
