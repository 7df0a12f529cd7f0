"""``python -m lateint_ref.conformance``: see ``lateint_ref.conformance.cli``."""

import sys

from lateint_ref.conformance.cli import main

sys.exit(main())
