"""Exact late-interaction scoring (spec/maxsim.md): packing the accepted input forms, stored
``Documents``, and ``maxsim`` / ``maxsim_pairwise`` / ``search_exact`` on the native kernels."""

from lateint_ref.scoring.documents import Documents
from lateint_ref.scoring.exact import maxsim, maxsim_pairwise, search_exact

__all__ = ["Documents", "maxsim", "maxsim_pairwise", "search_exact"]
