"""``Encoder``: token embeddings exactly as PyLate computes them, from a local model folder, with
a PyTorch backend or a NumPy backend that runs without torch (spec/encoder.md)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import Any

import numpy as np

from lateint_ref.encoding import checkpoint
from lateint_ref.encoding.architectures import Architecture, architecture
from lateint_ref.encoding.checkpoint import Projection
from lateint_ref.encoding.tokens import Tokens, load_tokenizer
from lateint_ref.encoding.weights import backbone_tensors, read_tensors
from lateint_ref.errors import InputError, WeightsError

BACKENDS = ("torch", "numpy")
PRECISIONS = ("float32", "bfloat16")
_OVERRIDES = (
    "query_prefix",
    "document_prefix",
    "query_length",
    "document_length",
    "do_query_expansion",
    "attend_to_expansion_tokens",
    "skiplist_words",
)


def _project(x: np.ndarray, projections: list[Projection]) -> np.ndarray:
    for p in projections:
        y = x @ p.weight.T
        if p.bias is not None:
            y = y + p.bias
        if p.use_residual:
            y = y + (x if p.residual is None else x @ p.residual.T)
        x = y
    return x


class _NumpyRuntime:
    """The NumPy forward pass (no torch)."""

    def __init__(self, arch: Architecture, config: dict, tensors: dict, projections: list) -> None:
        self.forward_fn = arch.numpy_function()
        self.config, self.tensors, self.projections = config, tensors, projections

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = self.forward_fn(self.config, self.tensors, ids, mask)
        return _project(hidden, self.projections).astype(np.float32)


class _TorchRuntime:
    """The PyTorch forward pass; ``precision="bfloat16"`` runs it under CPU autocast."""

    def __init__(
        self,
        arch: Architecture,
        config: dict,
        tensors: dict,
        projections: list,
        device: str,
        precision: str,
    ) -> None:
        import torch

        self.torch = torch
        self.module = arch.torch_class()(config)
        self.module.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        self.module.eval().to(device)
        self.device, self.precision = device, precision

        def tensor(t: np.ndarray | None) -> Any:
            return None if t is None else torch.from_numpy(t).to(device)

        self.projections = [
            (tensor(p.weight), tensor(p.bias), tensor(p.residual), p.use_residual)
            for p in projections
        ]

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self.torch
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"),
        ):
            x = self.module(
                torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
            )
            x = x.float()
            for weight, bias, residual, use_residual in self.projections:
                y = x @ weight.T
                if bias is not None:
                    y = y + bias
                if use_residual:
                    y = y + (x if residual is None else x @ residual.T)
                x = y.float()
        return x.cpu().numpy().astype(np.float32)

    def backbone(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().float().numpy() for k, v in self.module.state_dict().items()}


class Encoder:
    """Late-interaction encoder: texts to L2-normalised token embeddings (R-ENC-1 to R-ENC-8).

    Build it with ``Encoder.from_pretrained(folder)`` (a PyLate / sentence-transformers ColBERT
    folder or a Stanford ColBERT checkpoint) or ``Encoder.from_backbone(folder)`` (a bare BERT or
    ModernBERT folder, given a seeded projection and prefix tokens).
    """

    def __init__(
        self,
        folder: checkpoint.Folder,
        arch: Architecture,
        tensors: dict,
        *,
        backend: str,
        device: str,
        precision: str,
        tokens: Tokens,
    ) -> None:
        if backend not in BACKENDS:
            raise InputError(f"R-ENC-10: backend must be one of {BACKENDS}, got {backend!r}")
        if precision not in PRECISIONS:
            raise InputError(f"R-ENC-10: precision must be one of {PRECISIONS}, got {precision!r}")
        if backend == "numpy" and precision != "float32":
            raise InputError("R-ENC-10: the numpy backend computes in float32 only")
        self.folder = folder
        self.arch = arch
        self.tokens = tokens
        self.backend = backend
        self.precision = precision
        if not folder.projections:
            raise WeightsError(f"R-ENC-3: {folder.path}: no projection (Dense) layer")
        hidden = int(folder.backbone_config["hidden_size"])
        if folder.projections[0].weight.shape[1] != hidden:
            raise WeightsError(
                f"R-ENC-3: {folder.path}: projection input {folder.projections[0].weight.shape[1]}"
                f" != backbone hidden size {hidden}"
            )
        if backend == "torch":
            self._run: Any = _TorchRuntime(
                self.arch, folder.backbone_config, tensors, folder.projections, device, precision
            )
        else:
            self._run = _NumpyRuntime(
                self.arch, folder.backbone_config, tensors, folder.projections
            )
        self._tensors = tensors

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        backend: str = "torch",
        device: str = "cpu",
        precision: str = "float32",
        **overrides: Any,
    ) -> Encoder:
        """Loads a local PyLate folder or Stanford ColBERT checkpoint; never the network.

        ``overrides``: ``query_prefix``, ``document_prefix``, ``query_length``,
        ``document_length``, ``do_query_expansion``, ``attend_to_expansion_tokens``,
        ``skiplist_words``; they win over the saved configuration, as in PyLate.
        """
        folder = checkpoint.read_folder(path)
        if folder.kind == "backbone":
            raise WeightsError(
                f"R-ENC-1: {folder.path}: a bare backbone (no modules.json or artifact.metadata);"
                " use Encoder.from_backbone"
            )
        return cls._build(folder, backend, device, precision, overrides, add_prefixes=False)

    @classmethod
    def from_backbone(
        cls,
        path: str | os.PathLike,
        *,
        embedding_size: int = 128,
        seed: int = 0,
        backend: str = "torch",
        device: str = "cpu",
        precision: str = "float32",
        **overrides: Any,
    ) -> Encoder:
        """A bare BERT or ModernBERT folder made into a late-interaction encoder (R-ENC-1):
        prefix tokens added to the vocabulary with embeddings drawn (seeded) from a normal
        fitted to the existing ones, and a seeded ``hidden -> embedding_size`` projection."""
        folder = checkpoint.read_folder(path, as_backbone=True)
        rng = np.random.default_rng(seed)
        hidden = int(folder.backbone_config["hidden_size"])
        bound = 1.0 / np.sqrt(hidden)
        weight = rng.uniform(-bound, bound, size=(embedding_size, hidden)).astype(np.float32)
        folder.projections = [Projection(weight)]
        return cls._build(folder, backend, device, precision, overrides, add_prefixes=True, rng=rng)

    @classmethod
    def _build(
        cls,
        folder: checkpoint.Folder,
        backend: str,
        device: str,
        precision: str,
        overrides: dict,
        *,
        add_prefixes: bool,
        rng: np.random.Generator | None = None,
    ) -> Encoder:
        unknown = set(overrides) - set(_OVERRIDES)
        if unknown:
            raise InputError(f"R-ENC-10: unknown settings {sorted(unknown)}")
        values = {k: v for k, v in overrides.items() if v is not None}
        if "skiplist_words" in values:
            values["skiplist_words"] = tuple(values["skiplist_words"])
        folder.settings = replace(folder.settings, **values)
        if not folder.settings.do_query_expansion:
            folder.settings = replace(folder.settings, attend_to_expansion_tokens=False)
        arch = architecture(folder.backbone_config, str(folder.path / "config.json"))
        prefixes = (folder.settings.query_prefix, folder.settings.document_prefix)
        tokenizer = load_tokenizer(folder.tokenizer_file, prefixes if add_prefixes else ())
        tokens = Tokens(tokenizer, folder.settings, folder.special, folder.tokenizer_file)
        tensors = backbone_tensors(
            read_tensors(folder.backbone_file), arch, folder.backbone_config, folder.backbone_file
        )
        if add_prefixes and rng is not None:
            tensors, folder.backbone_config = _grow_embeddings(
                tensors, arch, folder.backbone_config, tokens, rng
            )
        return cls(
            folder,
            arch,
            tensors,
            backend=backend,
            device=device,
            precision=precision,
            tokens=tokens,
        )

    @property
    def embedding_size(self) -> int:
        """Components of each token embedding."""
        return int(self.folder.projections[-1].weight.shape[0])

    @property
    def settings(self) -> Any:
        """The resolved PyLate settings (prefixes, lengths, expansion, skiplist)."""
        return self.folder.settings

    def tokenize(self, texts: list[str], *, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)`` ``[len(texts), length] int64``, as PyLate builds them."""
        return self.tokens.tokenize(_texts(texts), is_query=is_query)

    def encode(
        self,
        texts: list[str] | str,
        *,
        is_query: bool,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> list[np.ndarray]:
        """Token embeddings, one ``[n_tokens, embedding_size] float32`` array per text, in input
        order. Queries give ``query_length`` rows with query expansion; documents give their kept
        tokens (R-ENC-7). Texts are batched longest first to waste no padding."""
        items = _texts(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"R-ENC-10: batch_size must be an integer >= 1, got {batch_size!r}")
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        out: list[np.ndarray | None] = [None] * len(items)
        n_batches = (len(items) + batch_size - 1) // batch_size
        show = sys.stderr.isatty() and n_batches > 1 if show_progress is None else show_progress
        for b, start in enumerate(range(0, len(items), batch_size)):
            idx = order[start : start + batch_size]
            ids, mask = self.tokens.tokenize([items[i] for i in idx], is_query=is_query)
            emb = self._run(ids, mask)
            kept = self.tokens.kept(ids, mask, is_query=is_query)
            for row, i in enumerate(idx):
                e = emb[row][kept[row]]
                norms = np.sqrt((e * e).sum(axis=1, keepdims=True))
                out[i] = (e / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
            if show:
                what = "queries" if is_query else "documents"
                print(f"\rencoding {what}: batch {b + 1}/{n_batches}", end="", file=sys.stderr)
        if show:
            print(file=sys.stderr)
        return out  # type: ignore[return-value]

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Writes the PyLate layout (R-ENC-9): PyLate's ``models.ColBERT(path)`` loads it and gives
        the same embeddings."""
        backbone = self._run.backbone() if self.backend == "torch" else self._tensors
        tok = self.tokens.tokenizer
        tok.no_truncation()
        tok.no_padding()
        checkpoint.write_folder(
            path,
            source=self.folder.path,
            backbone_config=self.folder.backbone_config,
            backbone=backbone,
            tokenizer_json=tok.to_str(),
            special=self.folder.special,
            settings=self.folder.settings,
            projections=self.folder.projections,
            versions={"lateint_ref": _version()},
        )


def _version() -> str:
    from lateint_ref import __version__

    return __version__


def _texts(texts: list[str] | str) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    items = list(texts)
    bad = [type(t).__name__ for t in items if not isinstance(t, str)]
    if bad:
        raise InputError(f"R-ENC-10: texts must be strings, got {bad[0]}")
    return items


def _grow_embeddings(
    tensors: dict, arch: Architecture, config: dict, tokens: Tokens, rng: np.random.Generator
) -> tuple[dict, dict]:
    """Adds rows for new token ids to the (validated) embedding matrix, drawn from a normal with
    the mean and per-component standard deviation of the existing rows (seeded, R-ENC-1)."""
    matrix = tensors[arch.embeddings]
    needed = tokens.tokenizer.get_vocab_size(with_added_tokens=True)
    if needed <= matrix.shape[0]:
        return tensors, config
    mean, std = matrix.mean(axis=0), matrix.std(axis=0)
    extra = rng.normal(mean, std, size=(needed - matrix.shape[0], matrix.shape[1]))
    grown = np.vstack([matrix, extra.astype(np.float32)])
    return tensors | {arch.embeddings: grown}, config | {"vocab_size": needed}
