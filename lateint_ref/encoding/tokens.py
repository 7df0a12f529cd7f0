"""PyLate's tokenization rules for late interaction (R-ENC-4 to R-ENC-8), on a ``tokenizers``
tokenizer read from ``tokenizer.json``.

A batch of texts becomes ``input_ids, attention_mask: [batch, length] int64``:
each text is stripped (and lower-cased when the model says so), tokenized with the tokenizer's
special tokens, truncated to ``length - 1`` tokens, padded with the mask token (queries to
``query_length - 1`` when query expansion is on, otherwise to the longest in the batch), then the
prefix token is inserted after the first token with attention 1.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref.errors import WeightsError


@dataclass(frozen=True)
class TokenSettings:
    """The late-interaction settings PyLate keeps in ``config_sentence_transformers.json``."""

    query_prefix: str = "[Q] "
    document_prefix: str = "[D] "
    query_length: int = 32
    document_length: int = 180
    do_query_expansion: bool = True
    attend_to_expansion_tokens: bool = False
    skiplist_words: tuple[str, ...] = field(default_factory=lambda: tuple(string.punctuation))
    do_lower_case: bool = False
    padding_side: str = "right"
    truncation_side: str = "right"


class Tokens:
    """Tokenizes queries and documents as PyLate does."""

    def __init__(
        self, tokenizer: Any, settings: TokenSettings, special: dict, tokenizer_path: Path
    ) -> None:
        """``tokenizer``: a ``tokenizers.Tokenizer``; ``special``: its special token strings
        (``mask_token``, ``pad_token``...); ``tokenizer_path`` names it in errors."""
        self.tokenizer = tokenizer
        self.path = tokenizer_path
        self.settings = settings
        for length in (settings.query_length, settings.document_length):
            if length < 3:
                raise WeightsError(
                    f"R-ENC-4: query and document lengths must be >= 3, got {length}"
                )
        self.query_prefix_id = self._prefix_id(settings.query_prefix)
        self.document_prefix_id = self._prefix_id(settings.document_prefix)
        mask = self._id(special.get("mask_token"))
        eos = self._id(special.get("eos_token"))
        pad = self._id(special.get("pad_token"))
        # R-ENC-5: padding and query expansion use the mask token.
        pad_id = mask if mask is not None else eos if eos is not None else pad
        if pad_id is None:
            raise WeightsError(f"R-ENC-5: {tokenizer_path}: no mask, end or pad token to pad with")
        self.pad_id = pad_id
        unk = self._id(special.get("unk_token"))
        # R-ENC-7: like PyLate, a skiplist word that is not one token maps to the unknown token.
        ids = (self.tokenizer.token_to_id(w) for w in settings.skiplist_words)
        self.skiplist_ids = np.array(
            sorted({i if i is not None else unk for i in ids} - {None}), dtype=np.int64
        )

    def _id(self, token: object) -> int | None:
        if isinstance(token, dict):  # AddedToken serialised as an object
            token = token.get("content")
        return self.tokenizer.token_to_id(token) if isinstance(token, str) else None

    def _prefix_id(self, prefix: str) -> int | None:
        if prefix == "":
            return None
        token_id = self.tokenizer.token_to_id(prefix)
        if token_id is None:
            raise WeightsError(
                f"R-ENC-4: {self.path}: prefix token {prefix!r} is not in the vocabulary"
            )
        return token_id

    def tokenize(self, texts: list[str], *, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)``, both ``[len(texts), length] int64``."""
        s = self.settings
        length = s.query_length if is_query else s.document_length
        prefix_id = self.query_prefix_id if is_query else self.document_prefix_id
        budget = length - 1 if prefix_id is not None else length
        cleaned = [str(t).strip() for t in texts]
        if s.do_lower_case:
            cleaned = [t.lower() for t in cleaned]
        tok = self.tokenizer
        tok.no_padding()
        tok.enable_truncation(budget, strategy="longest_first", direction=s.truncation_side)
        encodings = tok.encode_batch(cleaned, add_special_tokens=True)
        expand = is_query and s.do_query_expansion
        width = budget if expand else max((len(e.ids) for e in encodings), default=0)
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            cols = slice(width - n, width) if s.padding_side == "left" else slice(0, n)
            ids[row, cols] = e.ids
            mask[row, cols] = 1
        if prefix_id is not None:
            ids = np.insert(ids, 1, prefix_id, axis=1)
            mask = np.insert(mask, 1, 1, axis=1)
        if is_query and s.attend_to_expansion_tokens:  # R-ENC-6
            mask[:] = 1
        return ids, mask

    def kept(self, ids: np.ndarray, mask: np.ndarray, *, is_query: bool) -> np.ndarray:
        """``[batch, length] bool``: the positions whose embeddings are returned (R-ENC-7)."""
        if is_query:
            if self.settings.do_query_expansion:
                return np.ones(ids.shape, dtype=bool)
            return mask > 0
        return (mask > 0) & ~np.isin(ids, self.skiplist_ids)


def load_tokenizer(path: Path, add: tuple[str, ...] = ()) -> Any:
    """A ``tokenizers.Tokenizer`` from ``tokenizer.json``, with the tokens ``add`` appended to
    its vocabulary when absent (new ids after the last, as PyLate adds its prefixes)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises plain Exception subclasses
        raise WeightsError(f"R-ENC-3: {path}: cannot read tokenizer: {exc}") from exc
    new = [t for t in add if t and tokenizer.token_to_id(t) is None]
    if new:
        tokenizer.add_tokens(new)
    return tokenizer
