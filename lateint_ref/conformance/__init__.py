"""The conformance kit: checks an outside late-interaction implementation against the spec's
vectors (spec/README.md), one area at a time: ``maxsim``, ``encoder``, ``index-format``,
``metrics``, ``training``.

``python -m lateint_ref.conformance AREA --impl MODULE:CALLABLE`` (or ``--outputs FOLDER``)
prints one row per requirement. Importing the kit needs only NumPy; torch is imported by the
torch adapters and by the training area alone. ``reference`` holds lateint-ref itself in the
kit's plain shapes, so that the kit can be run on this implementation.
"""

from lateint_ref.conformance.cli import main
from lateint_ref.conformance.report import Case, Report

__all__ = ["Case", "Report", "main"]
