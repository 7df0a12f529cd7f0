"""PyLate 1.6.0's API over lateint-ref's engine (spec/pylate_api.md): change
``from pylate import ...`` to ``from lateint_ref.pylate import ...``.

``models`` (``ColBERT``: encode, save_pretrained), ``indexes`` (``PLAID``), ``retrieve``
(``ColBERT``), ``rank`` (``rerank``) and ``losses`` (``Contrastive``, ``CachedContrastive``,
``Distillation``). Scores are this project's exact MaxSim (no zero padding competes in the max,
R-MAXSIM-1), not PyLate's padded one. Importing this package, ``indexes``, ``retrieve`` or
``rank`` loads no torch (R-PYAPI-1)."""

__all__ = ["indexes", "losses", "models", "rank", "retrieve"]
