"""An encoder joined to an on-disk index (spec/retriever.md): ``Retriever``."""

from lateint_ref.retrieval.retriever import Retriever, load_encoder

__all__ = ["Retriever", "load_encoder"]
