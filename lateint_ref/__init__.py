"""lateint-ref: a small, fast reference implementation of late-interaction (ColBERT) retrieval.

Re-exports only, resolved lazily: ``import lateint_ref`` loads nothing but this file and
``errors``; ``lateint_ref.Encoder`` imports the encoder (and ``tokenizers``) on first use, and
torch is imported only by the torch backend.

The package follows the data: ``encoding`` (texts -> token embeddings), ``scoring`` (exact
MaxSim), ``index`` (the compressed on-disk index), ``retrieval`` (an encoder joined to an index),
``evaluation`` (trec_eval's metrics, TREC and BEIR files), ``training`` (PyLate's losses on a
torch model), ``cli`` (the ``lateint`` command).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lateint_ref.errors import (
    IndexFormatError,
    IndexLockedError,
    IndexWriteError,
    InputError,
    LateIntError,
    WeightsError,
)

__version__ = "0.1.0"

# name -> module that defines it (None: the name is a subpackage).
_LAZY: dict[str, str | None] = {
    "Documents": "lateint_ref.scoring",
    "maxsim": "lateint_ref.scoring",
    "maxsim_pairwise": "lateint_ref.scoring",
    "search_exact": "lateint_ref.scoring",
    "Encoder": "lateint_ref.encoding",
    "Hits": "lateint_ref.index",
    "Index": "lateint_ref.index",
    "Retriever": "lateint_ref.retrieval",
    "beir": "lateint_ref.evaluation",
    "encoding": None,
    "evaluation": None,
    "index": None,
    "retrieval": None,
    "scoring": None,
    "training": None,
}

if TYPE_CHECKING:
    from lateint_ref import encoding, evaluation, index, retrieval, scoring, training
    from lateint_ref.encoding import Encoder
    from lateint_ref.evaluation import beir
    from lateint_ref.index import Hits, Index
    from lateint_ref.retrieval import Retriever
    from lateint_ref.scoring import Documents, maxsim, maxsim_pairwise, search_exact

__all__ = [
    "Documents",
    "Encoder",
    "Hits",
    "Index",
    "IndexFormatError",
    "IndexLockedError",
    "IndexWriteError",
    "InputError",
    "LateIntError",
    "Retriever",
    "WeightsError",
    "__version__",
    "beir",
    "encoding",
    "evaluation",
    "index",
    "maxsim",
    "maxsim_pairwise",
    "retrieval",
    "scoring",
    "search_exact",
    "training",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lateint_ref' has no attribute {name!r}")
    where = _LAZY[name]
    module = importlib.import_module(f"lateint_ref.{name}" if where is None else where)
    value = module if where is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
