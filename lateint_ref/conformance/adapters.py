"""Adapters from common peer shapes to the kit's plain shapes (spec/README.md).

Each adapter takes the outside object and returns a callable of the area's plain shape; torch,
PyLate and pytrec_eval are imported only by the adapters that need them. Name one on the command
line with ``--adapter NAME``:

- ``torch-padded`` (maxsim): a torch function like PyLate's ``colbert_scores(queries [n_q, L_q,
  dim], documents [n_d, L_d, dim], queries_mask=, documents_mask=)``: the kit pads queries and
  documents with zero rows to the longest and passes float masks (1 real, 0 padding) when the
  function takes them;
- ``pylate-model`` (encoder): ``--impl`` names nothing; each golden folder is loaded with
  ``pylate.models.ColBERT(folder, device="cpu")`` (its ``encode(texts, is_query=...)``);
- ``pylate-losses`` (training): ``--impl`` names a module holding PyLate-shaped loss classes
  (``pylate.losses``): ``Contrastive(model=, temperature=)``, ``CachedContrastive(model=,
  mini_batch_size=, temperature=)``, ``Distillation(model=)``, called on sentence features;
- ``pylate-evaluate`` (metrics): ``pylate.evaluation.evaluate(scores, qrels, queries, metrics)``
  (means only);
- ``pylate-ir-evaluator`` (metrics): the metrics of ``pylate.evaluation.
  PyLateInformationRetrievalEvaluator``, which PyLate's trainer reports: sentence-transformers'
  ``InformationRetrievalEvaluator.compute_metrics`` on the run (means only; the relevant
  documents given to it are those of relevance >= 1, as R-EVAL-3 counts them);
- ``pytrec-eval`` (metrics): ``pytrec_eval.RelevanceEvaluator`` (trec_eval 9; per query).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

ADAPTERS = {
    "maxsim": ("plain", "torch-padded"),
    "encoder": ("plain", "pylate-model"),
    "index-format": ("plain",),
    "metrics": ("plain", "pylate-evaluate", "pylate-ir-evaluator", "pytrec-eval"),
    "training": ("plain", "pylate-losses"),
}


def torch_padded(fn: Callable[..., Any]) -> Callable[[list[np.ndarray], list[np.ndarray]], Any]:
    """``f(queries, documents)`` over a padded-batch torch function (PyLate's ``colbert_scores``).

    Queries ``[n_q, L_q, dim]`` and documents ``[n_d, L_d, dim]`` are zero-padded to the longest
    of the call, in the arrays' dtype; masks are float tensors of the embeddings' dtype, 1 for a
    real row. The adapter itself never checks the inputs: what the function does with an empty
    item, a NaN or a float64 array is what the kit reports."""
    import torch

    params = inspect.signature(fn).parameters

    def pad(items: list[np.ndarray]) -> tuple[Any, Any]:
        length = max((len(x) for x in items), default=0)
        dim = items[0].shape[1] if items else 0
        dtype = items[0].dtype if items else np.float32
        out = np.zeros((len(items), length, dim), dtype=dtype)
        mask = np.zeros((len(items), length), dtype=dtype)
        for i, x in enumerate(items):
            out[i, : len(x)] = x
            mask[i, : len(x)] = 1
        return torch.from_numpy(out), torch.from_numpy(mask)

    def scores(queries: list[np.ndarray], documents: list[np.ndarray]) -> Any:
        q, q_mask = pad(queries)
        d, d_mask = pad(documents)
        kwargs = {}
        if "queries_mask" in params:
            kwargs["queries_mask"] = q_mask
        if "documents_mask" in params:
            kwargs["documents_mask"] = d_mask
        with torch.no_grad():
            return fn(q, d, **kwargs)

    return scores


def pylate_model(_: Any = None) -> Callable[[str], Any]:
    """A factory ``folder -> model`` loading each golden folder with PyLate's ColBERT (CPU)."""

    def load(folder: str) -> Any:
        models = importlib.import_module("pylate.models")
        return models.ColBERT(model_name_or_path=folder, device="cpu")

    return load


def pylate_evaluate(fn: Any = None) -> Callable[..., dict[str, float]]:
    """``f(run, qrels, metrics) -> {metric: mean}`` through ``pylate.evaluation.evaluate``
    (ranx inside): the run's queries in the run's order, each ranking as ``[{"id", "score"}]``."""
    if fn is None or not callable(fn):
        fn = importlib.import_module("pylate.evaluation").evaluate

    def evaluate(run: dict[str, Any], qrels: dict[str, Any], metrics: list[str]) -> Any:
        queries = list(run)
        scores = [[{"id": d, "score": s} for d, s in run[q].items()] for q in queries]
        out = fn(scores=scores, qrels=qrels, queries=queries, metrics=list(metrics))
        return {m: float(out[m]) for m in metrics} if len(metrics) > 1 else {metrics[0]: out}

    return evaluate


def pylate_ir_evaluator(_: Any = None) -> Callable[..., dict[str, float]]:
    """``f(run, qrels, metrics) -> {metric: mean}`` through the metric code of PyLate's
    ``PyLateInformationRetrievalEvaluator`` (sentence-transformers' ``compute_metrics``), given
    every judged query, the run's rankings (an empty one for a query the run lacks)."""
    st = importlib.import_module("sentence_transformers.evaluation")

    def evaluate(run: dict[str, Any], qrels: dict[str, Any], metrics: list[str]) -> Any:
        ks: dict[str, list[int]] = {}
        for metric in metrics:
            name, k = metric.split("@")
            ks.setdefault(name, []).append(int(k))
        relevant = {q: {d for d, r in judged.items() if r >= 1} for q, judged in qrels.items()}
        evaluator = st.InformationRetrievalEvaluator(
            queries={q: q for q in qrels},
            corpus={"-": ""},
            relevant_docs=relevant,
            mrr_at_k=ks.get("mrr", [1]),
            ndcg_at_k=ks.get("ndcg", [1]),
            accuracy_at_k=[1],
            precision_recall_at_k=ks.get("recall", [1]),
            map_at_k=ks.get("map", [1]),
            write_csv=False,
        )
        results = [
            [{"corpus_id": d, "score": s} for d, s in run.get(q, {}).items()]
            for q in evaluator.queries_ids
        ]
        out = evaluator.compute_metrics(results)
        return {m: float(out[f"{m.split('@')[0]}@k"][int(m.split("@")[1])]) for m in metrics}

    return evaluate


TREC_NAMES = {"ndcg": "ndcg_cut", "recall": "recall", "map": "map_cut"}


def pytrec_eval_adapter(_: Any = None) -> Callable[..., dict[str, dict[str, float]]]:
    """``f(run, qrels, metrics) -> {qid: {metric: value}}`` through pytrec_eval (trec_eval 9):
    ``ndcg@k`` is ``ndcg_cut.k``, ``recall@k`` ``recall.k``, ``map@k`` ``map_cut.k`` and
    ``mrr@k`` ``recip_rank`` on each ranking cut to its top ``k`` (ranked by float32 score, then
    doc id descending, as trec_eval ranks)."""
    pytrec_eval: Any = importlib.import_module("pytrec_eval")

    def evaluate(run: dict[str, Any], qrels: dict[str, Any], metrics: list[str]) -> Any:
        out: dict[str, dict[str, float]] = {}
        for metric in metrics:
            name, k = metric.split("@")
            if name == "mrr":
                cut = {q: _top(r, int(k)) for q, r in run.items()}
                ev = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
                values = {q: v["recip_rank"] for q, v in ev.evaluate(cut).items()}
            else:
                measure = f"{TREC_NAMES[name]}.{k}"
                ev = pytrec_eval.RelevanceEvaluator(qrels, {measure})
                key = measure.replace(".", "_")
                values = {q: v[key] for q, v in ev.evaluate(run).items()}
            for q, v in values.items():
                out.setdefault(q, {})[metric] = float(v)
        return out

    return evaluate


def _top(ranking: dict[str, float], k: int) -> dict[str, float]:
    order = sorted(ranking.items(), key=lambda kv: (np.float32(kv[1]), kv[0]), reverse=True)
    return dict(order[:k])


def build(area: str, adapter: str, impl: Any) -> Any:
    """The plain-shape callable of ``impl`` through the named adapter."""
    if adapter == "plain":
        return impl
    if adapter == "torch-padded":
        return torch_padded(impl)
    if adapter == "pylate-model":
        return pylate_model(impl)
    if adapter == "pylate-evaluate":
        return pylate_evaluate(impl)
    if adapter == "pylate-ir-evaluator":
        return pylate_ir_evaluator(impl)
    if adapter == "pytrec-eval":
        return pytrec_eval_adapter(impl)
    if adapter == "pylate-losses":
        from lateint_ref.conformance.training import PyLateLosses

        return PyLateLosses(impl)
    raise ValueError(f"unknown adapter {adapter!r} for {area}")
