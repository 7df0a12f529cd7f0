"""The training area: an outside implementation of the losses against
spec/conformance/training-v1.json (spec/training.md R-TRAIN-5 to R-TRAIN-7).

The losses run on fixed token embeddings instead of a network: the kit hands the loss a stand-in
model whose outputs are leaf tensors of the vectors (the raw, not yet normalised, outputs; the
documents padded to ``document_length`` with rows that are not kept), calls the loss, runs
``backward()`` and compares the value and the gradients of those leaves with the float64 oracle
(spec/conformance_oracle.py). Tolerances are R-TRAIN-9's: values within 1e-5 relative,
gradients ``||got - want|| / max(||want||, 0.01 * ||whole gradient||)`` within 1e-4.

Shapes (``--impl`` names the module or object holding the three loss classes):

- plain, lateint-ref's (``lateint_ref.training``): ``Contrastive(temperature=)``,
  ``CachedContrastive(mini_batch_size=, temperature=)``, ``Distillation()``, each called as
  ``loss(model, queries=[...], documents=[[...], ...])`` (Distillation also
  ``teacher_scores=``), where ``model.embed(texts, is_query=) -> (embeddings [n, L, dim]
  normalised rows, kept [n, L] bool)``, ``model.settings.document_length`` and ``model.device``;
- ``--adapter pylate-losses``, PyLate's (``pylate.losses``): ``Contrastive(model=,
  temperature=)``, ``CachedContrastive(model=, mini_batch_size=, temperature=)``,
  ``Distillation(model=)``, called on sentence features (queries, then one feature per document
  column; Distillation: queries, then every document flattened, and the teacher scores as
  labels), where ``model(features)["token_embeddings"]`` are the raw outputs, ``model.skiplist``
  is empty and ``model.do_query_expansion`` true (every query row counts).

torch is imported by this module only.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

from lateint_ref.conformance import vectors
from lateint_ref.conformance.report import Case, Report

FILE = "training-v1.json"
LOSSES = {
    "contrastive": "R-TRAIN-5",
    "cached_contrastive": "R-TRAIN-6",
    "distillation": "R-TRAIN-7",
}


class Batch:
    """One batch of the vectors as float32 arrays."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.id = data["id"]
        self.queries = np.array(data["queries"], dtype=np.float32)  # [B, L_q, dim]
        self.documents = np.array(data["documents"], dtype=np.float32)  # [B, N, L_d, dim]
        self.kept = np.array(data["kept"], dtype=bool)  # [B, N, L_d]
        self.document_length = int(data["document_length"])
        self.temperature = float(data["temperature"])
        self.mini_batch_size = int(data["mini_batch_size"])
        self.teacher = [list(map(float, r)) for r in data["teacher_scores"]]
        self.losses = data["losses"]

    @property
    def b(self) -> int:
        return int(self.queries.shape[0])

    @property
    def n(self) -> int:
        return int(self.documents.shape[1])


class _Leaves:
    """The leaf tensors a loss differentiates."""

    def __init__(self, batch: Batch) -> None:
        import torch

        self.q = torch.tensor(batch.queries, requires_grad=True)
        flat = batch.documents.reshape(batch.b * batch.n, *batch.documents.shape[2:])
        self.d = torch.tensor(flat, requires_grad=True)
        self.d_kept = torch.tensor(batch.kept.reshape(batch.b * batch.n, -1))


class _LateIntModel:
    """The stand-in for lateint-ref's ``ColBERT``: texts ``q<i>`` and ``d<j>`` name rows."""

    def __init__(self, leaves: _Leaves, document_length: int) -> None:
        import torch

        self.leaves = leaves
        self.settings = SimpleNamespace(document_length=document_length)
        self.device = torch.device("cpu")

    def embed(self, texts: list[str], *, is_query: bool) -> tuple[Any, Any]:
        import torch
        import torch.nn.functional as F

        rows = torch.tensor([int(t[1:]) for t in texts], dtype=torch.long)
        table = self.leaves.q if is_query else self.leaves.d
        x = F.normalize(table[rows], p=2, dim=-1)
        if is_query:
            return x, torch.ones(x.shape[:2], dtype=torch.bool)
        return x, self.leaves.d_kept[rows]


def _texts(batch: Batch) -> tuple[list[str], list[list[str]]]:
    queries = [f"q{i}" for i in range(batch.b)]
    documents = [[f"d{i * batch.n + k}" for k in range(batch.n)] for i in range(batch.b)]
    return queries, documents


def _lateint_loss(impl: Any, loss: str, batch: Batch, leaves: _Leaves) -> Any:
    model = _LateIntModel(leaves, batch.document_length)
    queries, documents = _texts(batch)
    if loss == "contrastive":
        return impl.Contrastive(temperature=batch.temperature)(
            model, queries=queries, documents=documents
        )
    if loss == "cached_contrastive":
        fn = impl.CachedContrastive(
            mini_batch_size=batch.mini_batch_size, temperature=batch.temperature
        )
        return fn(model, queries=queries, documents=documents)
    return impl.Distillation()(
        model, queries=queries, documents=documents, teacher_scores=batch.teacher
    )


class PyLateLosses:
    """The ``pylate-losses`` adapter: PyLate-shaped loss classes on a stand-in model."""

    def __init__(self, module: Any) -> None:
        if module is None:
            import importlib

            module = importlib.import_module("pylate.losses")
        self.module = module

    def __call__(self, loss: str, batch: Batch, leaves: _Leaves) -> Any:
        import torch

        class Model(torch.nn.Module):
            skiplist: ClassVar[list[int]] = []
            do_query_expansion = True

            def forward(self, features: dict[str, Any]) -> dict[str, Any]:
                table = leaves.q if bool(features["is_query"][0]) else leaves.d
                return {"token_embeddings": table[features["rows"]]}

        def feature(rows: list[int], is_query: bool) -> dict[str, Any]:
            index = torch.tensor(rows, dtype=torch.long)
            width = leaves.q.shape[1] if is_query else leaves.d.shape[1]
            mask = (
                torch.ones((len(rows), width), dtype=torch.long)
                if is_query
                else leaves.d_kept[index].long()
            )
            return {
                "input_ids": torch.ones((len(rows), width), dtype=torch.long),
                "attention_mask": mask,
                "rows": index,
                "is_query": torch.full((len(rows),), is_query),
            }

        model = Model()
        b, n = batch.b, batch.n
        queries = feature(list(range(b)), True)
        if loss == "distillation":
            docs = feature(list(range(b * n)), False)
            labels = torch.tensor(batch.teacher, dtype=torch.float32)
            return self.module.Distillation(model=model)([queries, docs], labels)
        columns = [feature([j * n + k for j in range(b)], False) for k in range(n)]
        if loss == "contrastive":
            fn = self.module.Contrastive(model=model, temperature=batch.temperature)
        else:
            fn = self.module.CachedContrastive(
                model=model, mini_batch_size=batch.mini_batch_size, temperature=batch.temperature
            )
        return fn([queries, *columns])


def _relative(got: np.ndarray, want: np.ndarray, whole: float) -> float:
    """R-TRAIN-9's gradient error: ``||got - want|| / max(||want||, 0.01 * whole)``."""
    scale = max(float(np.linalg.norm(want)), 0.01 * whole, 1e-30)
    return float(np.linalg.norm(got - want)) / scale


def check(impl: Any, spec: Path, name: str) -> Report:
    """Every batch and loss through ``impl`` (a module of lateint-ref-shaped losses, or the
    ``pylate-losses`` adapter)."""
    data = vectors.load_json(spec / "conformance" / FILE)
    report = Report("training", name, {data["spec"]: data["spec_version"]})
    value_tol, grad_tol = float(data["value_tolerance"]), float(data["gradient_tolerance"])
    if callable(impl) and not isinstance(impl, PyLateLosses) and not hasattr(impl, "Contrastive"):
        impl = impl()  # a factory returning the module
    for raw in data["batches"]:
        batch = Batch(raw)
        for loss, requirement in LOSSES.items():
            want = batch.losses[loss]
            label = f"{batch.id}/{loss}"
            leaves = _Leaves(batch)
            try:
                if isinstance(impl, PyLateLosses):
                    value = impl(loss, batch, leaves)
                else:
                    value = _lateint_loss(impl, loss, batch, leaves)
                value.backward()
            except Exception as e:
                detail = f"raised {type(e).__name__}: {e}"[:200]
                report.add(Case(requirement, f"{label}/value", False, detail=detail))
                continue
            got = float(value.detach())
            error = abs(got - want["value"]) / max(abs(want["value"]), 1e-30)
            detail = "" if error <= value_tol else f"{got:.9g}, expected {want['value']:.9g}"
            report.add(Case(requirement, f"{label}/value", error <= value_tol, error, value_tol,
                            detail))  # fmt: skip
            grads = {
                "queries": (leaves.q.grad, np.array(want["grad_queries"])),
                "documents": (
                    leaves.d.grad,
                    np.array(want["grad_documents"]).reshape(leaves.d.shape),
                ),
            }
            whole = float(np.sqrt(sum(np.sum(w**2) for _, w in grads.values())))
            for part, (g, w) in grads.items():
                case = f"{label}/gradient-{part}"
                if g is None:
                    report.add(Case(requirement, case, False, detail="no gradient reached it"))
                    continue
                got_g = g.detach().numpy().astype(np.float64)
                err = _relative(got_g, w, whole)
                ratio = float(np.linalg.norm(got_g)) / max(float(np.linalg.norm(w)), 1e-30)
                detail = "" if err <= grad_tol else f"norm ratio got/expected {ratio:.6g}"
                report.add(Case(requirement, case, err <= grad_tol, err, grad_tol, detail))
    return report
