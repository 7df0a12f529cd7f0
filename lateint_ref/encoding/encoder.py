"""``Encoder``: token embeddings exactly as PyLate computes them, from a local model folder, with
a PyTorch backend or a NumPy backend that runs without torch (spec/encoder.md).

A folder is read once (``folder.read_folder``, a complete and immutable description) and one
builder, ``build_encoder``, turns that description, the caller's settings and runtime options, and
for a bare backbone a seeded projection (``Seeded``), into an ``Encoder``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lateint_ref import _checks
from lateint_ref.encoding.architectures import Architecture
from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.folder import ModelFolder, Projection, read_folder
from lateint_ref.encoding.precision import PRECISIONS, resolve
from lateint_ref.encoding.saving import write_folder
from lateint_ref.encoding.tokens import SETTINGS, Tokens, TokenSettings, setting_problem
from lateint_ref.encoding.tokens import with_settings as _with_settings
from lateint_ref.encoding.weights import backbone_tensors, read_tensors
from lateint_ref.errors import InputError, WeightsError

BACKENDS = ("torch", "numpy")


def _project(x: np.ndarray, projections: tuple[Projection, ...]) -> np.ndarray:
    """``x: [batch, seq, hidden] f32`` through the Dense modules in order."""
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

    def __init__(
        self,
        arch: Architecture,
        config: Config,
        tensors: dict[str, np.ndarray],
        projections: tuple[Projection, ...],
    ) -> None:
        self.forward_fn = arch.numpy_function()
        self.config, self.tensors, self.projections = config, tensors, projections

    def __call__(self, ids: np.ndarray, mask: np.ndarray, precision: str) -> np.ndarray:
        """``ids, mask: [batch, seq] int64`` -> ``[batch, seq, dim] f32`` (float32 only)."""
        hidden = self.forward_fn(self.config, self.tensors, ids, mask)
        return _project(hidden, self.projections).astype(np.float32)

    def backbone(self) -> dict[str, np.ndarray]:
        return self.tensors


class _TorchRuntime:
    """The PyTorch forward pass (``torch_model.LateInteraction``, the module training uses too);
    a call in ``"bfloat16"`` runs it under CPU autocast."""

    def __init__(
        self,
        arch: Architecture,
        config: Config,
        tensors: dict[str, np.ndarray],
        projections: tuple[Projection, ...],
        device: str,
    ) -> None:
        import torch

        from lateint_ref.encoding.torch_model import LateInteraction

        self.torch = torch
        self.module = LateInteraction(arch, config, tensors, projections).eval().to(device)
        self.device = device

    def __call__(self, ids: np.ndarray, mask: np.ndarray, precision: str) -> np.ndarray:
        """``ids, mask: [batch, seq] int64`` -> ``[batch, seq, dim] f32``; ``precision``:
        ``"float32"`` or ``"bfloat16"``."""
        torch = self.torch
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"),
        ):
            x = self.module(
                torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
            )
        out: np.ndarray = x.cpu().numpy().astype(np.float32)
        return out

    def backbone(self) -> dict[str, np.ndarray]:
        return self.module.backbone_tensors()


@dataclass(frozen=True)
class Seeded:
    """The projection ``Encoder.from_backbone`` gives a bare backbone (R-ENC-1): ``[embedding_size,
    hidden]`` uniform in ``±1/sqrt(hidden)``, then one embedding row per prefix token added to the
    vocabulary, all drawn from ``numpy.random.default_rng(seed)`` in that order."""

    embedding_size: int
    seed: int

    def __post_init__(self) -> None:
        _checks.positive(self.embedding_size, "embedding_size", "R-ENC-10")
        _checks.integer(self.seed, "seed", "R-ENC-10", 0)


def _checked_overrides(base: TokenSettings, overrides: Mapping[str, Any]) -> TokenSettings:
    """``base`` with the caller's settings (None: keep the saved value), which win as PyLate's
    constructor arguments do (R-ENC-1, R-ENC-10); no query expansion forces no attention to
    expansion tokens (R-ENC-6)."""
    unknown = set(overrides) - set(SETTINGS)
    if unknown:
        raise InputError(f"R-ENC-10: unknown settings {sorted(unknown)}")
    values = {k: v for k, v in overrides.items() if v is not None}
    for name, value in values.items():
        problem = setting_problem(name, value)
        if problem is not None:
            raise InputError(f"R-ENC-10: {problem}")
    settings = _with_settings(base, values)
    if not settings.do_query_expansion:
        settings = replace(settings, attend_to_expansion_tokens=False)
    return settings


def _check_lengths(
    settings: TokenSettings, folder: ModelFolder, overrides: Mapping[str, Any]
) -> None:
    """R-ENC-10: a backbone of absolute positions (BERT) encodes at most
    ``max_position_embeddings`` tokens, so neither length may exceed it: ``InputError`` for the
    caller's setting, ``WeightsError`` (R-ENC-3) for the folder's own."""
    if folder.architecture.name != "bert":
        return
    positions = int(folder.config["max_position_embeddings"])
    for name in ("query_length", "document_length"):
        n = getattr(settings, name)
        if n > positions:
            problem = f"{name} {n} is more than the backbone's {positions} positions"
            if overrides.get(name) is not None:
                raise InputError(f"R-ENC-10: {problem} (max_position_embeddings)")
            raise WeightsError(f"R-ENC-3: {folder.path}: {problem} (max_position_embeddings)")


def _check_runtime(backend: str, precision: str) -> None:
    if backend not in BACKENDS:
        raise InputError(f"R-ENC-10: backend must be one of {BACKENDS}, got {backend!r}")
    if precision not in PRECISIONS:
        raise InputError(f"R-ENC-10: precision must be one of {PRECISIONS}, got {precision!r}")
    if backend == "numpy" and precision == "bfloat16":
        raise InputError("R-ENC-10: the numpy backend computes in float32 only")


@dataclass(frozen=True)
class Parts:
    """What a folder, the caller's settings and an optional seeded projection resolve to: the
    backbone's ``config`` (``vocab_size`` grown when prefix tokens were added), its checked
    ``tensors``, the ``projections`` and the ``tokens``; shared by ``build_encoder`` and
    ``training.ColBERT``, so both start from the same weights."""

    config: Config
    tensors: dict[str, np.ndarray]
    projections: tuple[Projection, ...]
    tokens: Tokens


def model_parts(
    folder: ModelFolder, overrides: Mapping[str, Any], seeded: Seeded | None = None
) -> Parts:
    """Without ``seeded`` the folder must be a late-interaction model (its own projections and
    settings); with it, only the folder's backbone and tokenizer are used (R-ENC-1). ``folder``
    is not changed."""
    if seeded is None and folder.kind == "backbone":
        raise WeightsError(
            f"R-ENC-1: {folder.path}: a bare backbone ({folder.why_backbone}); "
            "use Encoder.from_backbone"
        )
    base = folder.settings if seeded is None else folder.tokenizer_settings
    settings = _checked_overrides(base, overrides)
    _check_lengths(settings, folder, overrides)
    arch, config = folder.architecture, folder.config
    tensors = backbone_tensors(
        read_tensors(folder.backbone_file), arch, config, folder.backbone_file
    )
    if seeded is None:
        projections = folder.projections
        tokens = Tokens(folder.tokenizer_json, settings, folder.special, folder.tokenizer_file)
    else:
        rng = np.random.default_rng(int(seeded.seed))
        hidden = int(config["hidden_size"])
        bound = 1.0 / np.sqrt(hidden)
        size = (int(seeded.embedding_size), hidden)
        projections = (Projection(rng.uniform(-bound, bound, size=size).astype(np.float32)),)
        prefixes = (settings.query_prefix, settings.document_prefix)
        tokens = Tokens(
            folder.tokenizer_json, settings, folder.special, folder.tokenizer_file, add=prefixes
        )
        tensors, config = _grow_embeddings(tensors, arch, config, tokens.vocab_size, rng)
    return Parts(config=config, tensors=tensors, projections=projections, tokens=tokens)


def build_encoder(
    folder: ModelFolder,
    overrides: Mapping[str, Any],
    *,
    backend: str = "torch",
    device: str = "cpu",
    precision: str = "float32",
    seeded: Seeded | None = None,
) -> Encoder:
    """The one builder: an ``Encoder`` from a folder's description (``model_parts``)."""
    _check_runtime(backend, precision)
    parts = model_parts(folder, overrides, seeded)
    arch = folder.architecture
    if backend == "torch":
        run: _NumpyRuntime | _TorchRuntime = _TorchRuntime(
            arch, parts.config, parts.tensors, parts.projections, device
        )
    else:
        run = _NumpyRuntime(arch, parts.config, parts.tensors, parts.projections)
    return Encoder(
        folder=folder,
        config=parts.config,
        projections=parts.projections,
        tokens=parts.tokens,
        runtime=run,
        backend=backend,
        precision=precision,
    )


class Encoder:
    """Late-interaction encoder: texts to L2-normalised token embeddings (R-ENC-1 to R-ENC-8).

    Build it with ``Encoder.from_pretrained(folder)`` (a PyLate / sentence-transformers ColBERT
    folder or a Stanford ColBERT checkpoint) or ``Encoder.from_backbone(folder)`` (a bare BERT or
    ModernBERT folder, given a seeded projection and prefix tokens). It holds no state that
    encoding changes: threads may share one (R-ENC-12).
    """

    def __init__(
        self,
        *,
        folder: ModelFolder,
        config: Config,
        projections: tuple[Projection, ...],
        tokens: Tokens,
        runtime: _NumpyRuntime | _TorchRuntime,
        backend: str,
        precision: str,
    ) -> None:
        """Parts made by ``build_encoder``: ``config`` is the folder's, with ``vocab_size`` grown
        when prefix tokens were added."""
        self.folder = folder
        self.config = config
        self.projections = projections
        self.tokens = tokens
        self.backend = backend
        self.precision = precision
        self._run = runtime

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str],
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
        return build_encoder(
            read_folder(path), overrides, backend=backend, device=device, precision=precision
        )

    @classmethod
    def from_backbone(
        cls,
        path: str | os.PathLike[str],
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
        seeded = Seeded(embedding_size, seed)
        return build_encoder(
            read_folder(path),
            overrides,
            backend=backend,
            device=device,
            precision=precision,
            seeded=seeded,
        )

    def precision_for(self, *, is_query: bool) -> str:
        """The arithmetic of a call encoding queries or documents: the precision asked for, or
        what ``"auto"`` resolves to on this CPU (R-ENC-13)."""
        return resolve(self.precision, self.backend, is_query=is_query)

    @property
    def embedding_size(self) -> int:
        """Components of each token embedding."""
        return int(self.projections[-1].weight.shape[0])

    @property
    def settings(self) -> TokenSettings:
        """The resolved PyLate settings (prefixes, lengths, expansion, skiplist)."""
        return self.tokens.settings

    def tokenize(self, texts: list[str], *, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)`` ``[len(texts), length] int64``, as PyLate builds them."""
        return self.tokens.tokenize(_texts(texts), is_query=_is_query(is_query))

    def encode(
        self,
        texts: list[str] | str,
        *,
        is_query: bool,
        batch_size: int = 32,
        show_progress: bool | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[np.ndarray]:
        """Token embeddings, one ``[n_tokens, embedding_size] float32`` array per text, in input
        order. Queries give ``query_length`` rows with query expansion; documents give their kept
        tokens (R-ENC-7). Texts are batched longest first to waste no padding. ``on_batch``,
        when given, is called after each batch with the number of texts encoded so far."""
        items = _texts(texts)
        is_query = _is_query(is_query)
        size = _checks.positive(batch_size, "batch_size", "R-ENC-10")
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(items)
        n_batches = (len(items) + size - 1) // size
        show = sys.stderr.isatty() and n_batches > 1 if show_progress is None else show_progress
        for b, start in enumerate(range(0, len(items), size)):
            idx = order[start : start + size]
            ids, mask = self.tokens.tokenize([items[i] for i in idx], is_query=is_query)
            emb = self._run(ids, mask, self.precision_for(is_query=is_query))
            kept = self.tokens.kept(ids, mask, is_query=is_query)
            for row, i in enumerate(idx):
                e = emb[row][kept[row]]
                norms = np.sqrt((e * e).sum(axis=1, keepdims=True))
                out[i] = (e / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
            if on_batch is not None:
                on_batch(min(start + size, len(items)))
            if show:
                what = "queries" if is_query else "documents"
                print(f"\rencoding {what}: batch {b + 1}/{n_batches}", end="", file=sys.stderr)
        if show:
            print(file=sys.stderr)
        return out

    def truncated(self, texts: list[str], *, is_query: bool = False) -> int:
        """How many of ``texts`` are longer than the document (or query) length and lose
        tokens to truncation."""
        return int(self.tokens.truncated(_texts(texts), is_query=_is_query(is_query)).sum())

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Writes the PyLate layout (R-ENC-9): PyLate's ``models.ColBERT(path)`` loads it and gives
        the same embeddings. The tokenizer saved is the one read (with any prefix tokens added),
        neither truncating nor padding; nothing the encoder holds is changed."""
        write_folder(
            path,
            source=self.folder.path,
            backbone_config=self.config,
            backbone=self._run.backbone(),
            source_weights=self.folder.backbone_file,
            tokenizer_json=self.tokens.json,
            special=self.folder.special,
            settings=self.settings,
            projections=self.projections,
            versions={"lateint_ref": _version()},
        )


def _version() -> str:
    from lateint_ref import __version__

    return __version__


def _texts(texts: Any) -> list[str]:
    """R-ENC-10: one string or an iterable of strings, each valid Unicode (no lone surrogate,
    which no tokenizer can read)."""
    if isinstance(texts, str):
        texts = [texts]
    elif isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InputError(
            f"R-ENC-10: texts must be a string or a sequence of strings, got {texts!r:.80}"
        )
    items = list(texts)
    bad = [type(t).__name__ for t in items if not isinstance(t, str)]
    if bad:
        raise InputError(f"R-ENC-10: texts must be strings, got {bad[0]}")
    for n, t in enumerate(items):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"R-ENC-10: text {n} is not valid Unicode ({exc.reason} at {exc.start}: "
                f"{t[max(exc.start - 10, 0) : exc.end + 10]!r})"
            ) from exc
    return items


def _is_query(x: Any) -> bool:
    """R-ENC-10: ``is_query`` is True or False; anything else would pick a side silently."""
    return _checks.flag(x, "is_query", "R-ENC-10")


def _grow_embeddings(
    tensors: dict[str, np.ndarray],
    arch: Architecture,
    config: Config,
    needed: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], Config]:
    """The tensors and config with rows added to the (validated) embedding matrix up to
    ``needed`` ids, drawn from a normal with the mean and per-component standard deviation of the
    existing rows (seeded, R-ENC-1); the inputs are not changed."""
    matrix = tensors[arch.embeddings]
    if needed <= matrix.shape[0]:
        return tensors, config
    mean, std = matrix.mean(axis=0), matrix.std(axis=0)
    extra = rng.normal(mean, std, size=(needed - matrix.shape[0], matrix.shape[1]))
    grown = np.vstack([matrix, extra.astype(np.float32)])
    return tensors | {arch.embeddings: grown}, {**config, "vocab_size": needed}
