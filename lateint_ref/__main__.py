"""``python -m lateint_ref``: the ``lateint`` command line (spec/cli.md)."""

import sys

from lateint_ref.cli import main

sys.exit(main())
