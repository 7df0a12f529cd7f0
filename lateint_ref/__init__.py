"""lateint-ref: a small, fast reference implementation of late-interaction (ColBERT) retrieval."""

from lateint_ref import beir, evaluation
from lateint_ref.documents import Documents
from lateint_ref.encoder import Encoder
from lateint_ref.errors import (
    IndexFormatError,
    IndexWriteError,
    InputError,
    LateIntError,
    WeightsError,
)
from lateint_ref.index import Hits, Index
from lateint_ref.retriever import Retriever
from lateint_ref.scoring import maxsim, maxsim_pairwise, search_exact

__version__ = "0.1.0"

__all__ = [
    "Documents",
    "Encoder",
    "Hits",
    "Index",
    "IndexFormatError",
    "IndexWriteError",
    "InputError",
    "LateIntError",
    "Retriever",
    "WeightsError",
    "__version__",
    "beir",
    "evaluation",
    "maxsim",
    "maxsim_pairwise",
    "search_exact",
]
