"""One child process of the bad-input sweep: ``python tests/sweep_child.py GROUP WORKDIR
RESULTS START`` runs cases ``START..`` of ``GROUP`` (tests/sweep_core.py ``run_group``)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "spec")]

from sweep_core import run_group  # noqa: E402

if __name__ == "__main__":
    run_group(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
