"""The real PyLate 1.6.0, as the golden generators need it (run them in the peers venv,
/work/shared/PEERS.md).

Importing this module sets the environment those generators run in (no model hub, quiet
tokenizers) before transformers is imported, and exits with a message naming the calling script
when PyLate is missing or is another version than the one the goldens record."""

from __future__ import annotations

import os
import sys
from pathlib import Path

VERSION = "1.6.0"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_script = Path(sys.argv[0]).name or "this generator"
try:
    import pylate
except ImportError:
    sys.exit(f"{_script} needs PyLate {VERSION} (see /work/shared/PEERS.md)")
if pylate.__version__ != VERSION:
    sys.exit(f"{_script} needs PyLate {VERSION}, found {pylate.__version__}")
