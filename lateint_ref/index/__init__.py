"""The on-disk compressed index (spec/index.md): ``Index`` (open, search, decode; ``create`` and
``add`` go through ``writer``) and its results, ``Hits``."""

from lateint_ref.index.reader import Hits, Index

__all__ = ["Hits", "Index"]
