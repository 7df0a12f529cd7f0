"""``ColBERT``: the late-interaction network as a trainable ``torch.nn.Module`` (spec/training.md
R-TRAIN-1 to R-TRAIN-3, R-TRAIN-11).

It is ``encoding.torch_model.LateInteraction`` (the very module the encoder's torch backend runs)
with PyLate's tokenization rules (``encoding.tokens.Tokens``) and the folder it came from, so that
``save_pretrained`` writes the PyLate layout that ``Encoder.from_pretrained`` and PyLate load."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from lateint_ref import _checks
from lateint_ref.encoding.backbones import Config
from lateint_ref.encoding.encoder import Parts, Seeded, model_parts
from lateint_ref.encoding.folder import ModelFolder, read_folder
from lateint_ref.encoding.saving import write_folder
from lateint_ref.encoding.tokens import Tokens, TokenSettings
from lateint_ref.encoding.torch_model import LateInteraction
from lateint_ref.errors import InputError


class ColBERT(LateInteraction):
    """Backbone + projections with PyLate's tokenization; ``.train()`` / ``.eval()`` as any module.

    Parameters are named ``backbone.<checkpoint name>`` and ``projections.<i>.linear.weight``
    (R-TRAIN-1). In train mode the backbone applies dropout as Hugging Face's does, at the
    rates of its ``config.json`` or the ``dropout`` given to the constructor (R-TRAIN-11); eval
    mode applies none. ``dropout_rates``: the rates in use, by config name."""

    def __init__(
        self,
        folder: ModelFolder,
        parts: Parts,
        device: str | torch.device,
        dropout: float | None = None,
    ) -> None:
        """Parts resolved by ``encoding.encoder.model_parts``; use ``from_pretrained`` or
        ``from_backbone``. ``dropout``: None (the config's rates) or one rate for all."""
        arch, rate = folder.architecture, _dropout(dropout)
        rates = (
            arch.dropout_rates(parts.config, folder.path / "config.json")
            if rate is None
            else {name: rate for name, _ in arch.dropout}
        )
        super().__init__(arch, parts.config, parts.tensors, parts.projections, rates)
        self.folder = folder
        # What save_pretrained writes: the config as read, with the rates given (R-TRAIN-11).
        self.config: Config = parts.config if rate is None else {**parts.config, **rates}
        self.tokens: Tokens = parts.tokens
        self.dropout_rates: dict[str, float] = rates
        self.to(device)

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str = "cpu",
        dropout: float | None = None,
        **overrides: Any,
    ) -> ColBERT:
        """A PyLate (or Stanford ColBERT) folder, as ``Encoder.from_pretrained`` reads it, in
        train mode (as ``torch.nn.Module`` starts); ``overrides`` as the encoder's.
        ``dropout``: None trains with the backbone config's dropout rates, a number in
        ``[0, 1)`` replaces every one of them (0 turns dropout off), in the config
        ``save_pretrained`` writes too, as PyLate saves a ``config_kwargs`` override
        (R-TRAIN-11)."""
        rate = _dropout(dropout)
        folder = read_folder(path)
        return cls(folder, model_parts(folder, overrides), device, rate)

    @classmethod
    def from_backbone(
        cls,
        path: str | os.PathLike[str],
        *,
        embedding_size: int = 128,
        seed: int = 0,
        device: str = "cpu",
        dropout: float | None = None,
        **overrides: Any,
    ) -> ColBERT:
        """A bare BERT or ModernBERT folder with the seeded projection and prefix rows of
        ``Encoder.from_backbone`` (R-ENC-1): the same initial weights, bit for bit (R-TRAIN-1).
        ``dropout`` as ``from_pretrained``'s (R-TRAIN-11)."""
        rate = _dropout(dropout)
        folder = read_folder(path)
        parts = model_parts(folder, overrides, Seeded(embedding_size, seed))
        return cls(folder, parts, device, rate)

    @property
    def settings(self) -> TokenSettings:
        """The resolved PyLate settings (prefixes, lengths, expansion, skiplist)."""
        return self.tokens.settings

    @property
    def device(self) -> torch.device:
        """Where the parameters are."""
        return next(self.parameters()).device

    def tokenize(self, texts: list[str], *, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)`` ``[len(texts), length] int64`` by PyLate's rules
        (R-ENC-4 to R-ENC-6); documents are padded to the longest of ``texts``."""
        return self.tokens.tokenize(_strings(texts, "texts"), is_query=is_query)

    def embed(self, texts: list[str], *, is_query: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings for a loss (R-TRAIN-2): ``(embeddings [n, length, dim] f32, kept
        [n, length] bool)``. Every row is L2-normalised (``x / max(||x||, 1e-12)``), padding rows
        included; ``kept`` marks the rows the encoder returns (R-ENC-7): every query row with
        query expansion, else the attended ones; for documents the attended, non-skiplisted
        ones. Gradients flow unless the caller disables them."""
        ids, mask = self.tokenize(texts, is_query=is_query)
        kept = self.tokens.kept(ids, mask, is_query=is_query)
        device = self.device
        x = self(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
        x = torch.nn.functional.normalize(x, p=2.0, dim=-1, eps=1e-12)
        return x, torch.from_numpy(kept).to(device)

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Writes the current weights in the PyLate layout (R-TRAIN-3, R-ENC-9): PyLate's
        ``models.ColBERT(path)`` and ``Encoder.from_pretrained(path)`` load them and give the
        embeddings this module gives in eval mode. The backbone's ``config.json`` holds the
        dropout rates in use (R-TRAIN-11)."""
        from lateint_ref import __version__

        write_folder(
            path,
            source=self.folder.path,
            backbone_config=self.config,
            backbone=self.backbone_tensors(),
            source_weights=self.folder.backbone_file,
            tokenizer_json=self.tokens.json,
            special=self.folder.special,
            settings=self.settings,
            projections=self.projection_values(),
            versions={"lateint_ref": __version__},
        )


def _dropout(dropout: Any) -> float | None:
    """R-TRAIN-11: None (the config's rates) or one rate in ``[0, 1)`` for every position."""
    return None if dropout is None else _checks.rate(dropout, "dropout", "R-TRAIN-11")


def _strings(texts: Any, name: str) -> list[str]:
    """``texts`` as a list of strings (R-TRAIN-8)."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise InputError(f"R-TRAIN-8: {name} must be a list of strings, got {type(texts).__name__}")
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise InputError(f"R-TRAIN-8: {name} must hold strings, got {bad[0]}")
    for n, t in enumerate(texts):  # a lone surrogate is no text a tokenizer reads
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"R-TRAIN-8: {name}[{n}] is not valid Unicode ({exc.reason} at {exc.start})"
            ) from exc
    return list(texts)
