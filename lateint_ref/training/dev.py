"""The trainer's dev set (spec/trainer.md R-FIT-4): ``(corpus, queries, qrels)`` or a BEIR
folder, read and checked whole before the first step, and its nDCG@10 by exact MaxSim over the
model's embeddings."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from lateint_ref.errors import InputError
from lateint_ref.training.model import ColBERT

K = 10

Dev = tuple[Any, Mapping[str, str], Mapping[str, Mapping[str, int]]]


@dataclass(frozen=True)
class DevSet:
    """The judged dev queries and the whole dev corpus, in the order given."""

    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]


def read(dev: Any, split: Any) -> DevSet | None:
    """R-FIT-4: the dev set, read and checked whole before the first step (None: no dev)."""
    if dev is None:
        return None
    if isinstance(dev, (str, os.PathLike)):
        from lateint_ref.evaluation.beir import load_dataset

        if not isinstance(split, str) or not split:
            raise InputError(f"R-FIT-4: dev_split must be a split name, got {split!r}")
        corpus, queries, qrels = load_dataset(dev, split)
    elif isinstance(dev, tuple) and len(dev) == 3:
        corpus, queries, qrels = dev
    else:
        raise InputError(
            "R-FIT-4: dev must be (corpus, queries, qrels) or a BEIR folder, got "
            f"{type(dev).__name__}"
        )
    pairs: Iterable[Any] = corpus.items() if isinstance(corpus, Mapping) else corpus
    docs = {str(i): t for i, t in pairs}
    if not docs or not isinstance(queries, Mapping) or not isinstance(qrels, Mapping):
        raise InputError("R-FIT-4: dev needs a non-empty corpus and mappings queries and qrels")
    judged = {str(q): {str(d): int(r) for d, r in j.items()} for q, j in qrels.items()}
    ids = [str(q) for q in queries if str(q) in judged]
    if not ids:
        raise InputError("R-FIT-4: no dev query is judged in the dev qrels")
    texts = {str(q): t for q, t in queries.items()}
    bad = [x for x in [*docs.values(), *(texts[q] for q in ids)] if not isinstance(x, str)]
    if bad:
        raise InputError(f"R-FIT-4: dev texts must be strings, got {type(bad[0]).__name__}")
    return DevSet(list(docs), list(docs.values()), ids, [texts[q] for q in ids], judged)


def _embed(model: ColBERT, texts: list[str], is_query: bool, batch_size: int) -> list[Any]:
    out = []
    for i in range(0, len(texts), batch_size):
        x, kept = model.embed(texts[i : i + batch_size], is_query=is_query)
        out += [x[j][kept[j]].float().cpu().numpy() for j in range(len(x))]
    return out


def evaluate(model: ColBERT, dev: DevSet, batch_size: int) -> float:
    """R-FIT-4: nDCG@10 of the dev queries by exact MaxSim over the model's embeddings (eval
    mode, float32, no gradient), ``batch_size`` texts embedded at a time; the model's mode is
    restored."""
    from lateint_ref.evaluation import ndcg
    from lateint_ref.scoring import search_exact

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            queries = _embed(model, dev.query_texts, True, batch_size)
            documents = _embed(model, dev.doc_texts, False, batch_size)
    finally:
        model.train(was_training)
    scores, indices = search_exact(queries, documents, K)
    run = {
        q: {dev.doc_ids[int(j)]: float(s) for s, j in zip(scores[n], indices[n], strict=True)}
        for n, q in enumerate(dev.query_ids)
    }
    return ndcg(run, {q: dev.qrels[q] for q in dev.query_ids}, K)
