"""The ``lateint`` command line (spec/cli.md): ``entry`` (the entry point ``main`` and its error
mapping), ``parser`` (the one parser), ``shared`` (what commands share) and one module per
command."""

from lateint_ref.cli.entry import main

__all__ = ["main"]
