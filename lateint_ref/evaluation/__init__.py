"""Retrieval quality (spec/evaluation.md): trec_eval's metrics (``metrics``), TREC run and qrels
files (``trec``) and BEIR collections (``beir``)."""

from lateint_ref.evaluation.metrics import (
    DEFAULT_METRICS,
    evaluate,
    map_at,
    mrr,
    ndcg,
    ranked,
    recall,
)
from lateint_ref.evaluation.trec import read_qrels, read_run, write_run

__all__ = [
    "DEFAULT_METRICS",
    "beir",
    "evaluate",
    "map_at",
    "mrr",
    "ndcg",
    "ranked",
    "read_qrels",
    "read_run",
    "recall",
    "write_run",
]


def __getattr__(name: str) -> object:
    # ``lateint_ref.evaluation.beir`` (collections on disk) loads on first use.
    if name == "beir":
        import importlib

        return importlib.import_module("lateint_ref.evaluation.beir")
    raise AttributeError(f"module 'lateint_ref.evaluation' has no attribute {name!r}")
