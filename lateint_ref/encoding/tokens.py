"""PyLate's tokenization rules for late interaction (R-ENC-4 to R-ENC-8), on ``tokenizers``
tokenizers read from ``tokenizer.json``.

A batch of texts becomes ``input_ids, attention_mask: [batch, length] int64``:
each text is stripped (and lower-cased when the model says so), tokenized with the tokenizer's
special tokens, truncated to ``length - 1`` tokens, padded with the mask token (queries to
``query_length - 1`` when query expansion is on, otherwise to the longest in the batch), then the
prefix token is inserted after the first token with attention 1.

Queries and documents each have their own tokenizer, configured once (truncation to its budget,
no padding) when ``Tokens`` is built and never changed afterwards: nothing is shared and mutated
between calls, so threads may tokenize queries and documents at once (R-ENC-12).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lateint_ref import _checks
from lateint_ref.errors import WeightsError

MIN_LENGTH = 3  # R-ENC-4: a first token, the prefix and one more


@dataclass(frozen=True)
class TokenSettings:
    """The late-interaction settings PyLate keeps in ``config_sentence_transformers.json``,
    ``sentence_bert_config.json`` (``do_lower_case``) and ``tokenizer_config.json`` (sides)."""

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


# The settings PyLate saves and its constructor takes (R-ENC-1), with what each must be.
SETTINGS = {
    "query_prefix": "text",
    "document_prefix": "text",
    "query_length": "length",
    "document_length": "length",
    "do_query_expansion": "flag",
    "attend_to_expansion_tokens": "flag",
    "skiplist_words": "words",
}


def setting_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` of ``SETTINGS``, or None:
    ``"query_length must be an integer >= 3, got 2"``."""
    kind = SETTINGS[name]
    if kind == "text":
        ok, what = isinstance(value, str), "a string"
    elif kind == "length":
        ok = _checks.is_int(value) and int(value) >= MIN_LENGTH
        what = f"an integer >= {MIN_LENGTH}"
    elif kind == "flag":
        ok, what = isinstance(value, bool), "true or false"
    else:
        ok = isinstance(value, (list, tuple)) and all(isinstance(w, str) for w in value)
        what = "a list of strings"
    return None if ok else f"{name} must be {what}, got {value!r}"


def with_settings(base: TokenSettings, values: Mapping[str, Any]) -> TokenSettings:
    """``base`` with ``values`` (checked by ``setting_problem``) in their stored types."""
    plain: dict[str, Any] = {
        k: tuple(v) if SETTINGS[k] == "words" else int(v) if SETTINGS[k] == "length" else v
        for k, v in values.items()
    }
    return replace(base, **plain)


def parse_tokenizer(text: str, source: Path) -> Any:
    """A ``tokenizers.Tokenizer`` from the JSON of ``tokenizer.json``."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(text)
    except Exception as exc:  # the tokenizers library raises plain Exception subclasses
        raise WeightsError(f"R-ENC-3: {source}: cannot read tokenizer: {exc}") from exc


class Tokens:
    """Tokenizes queries and documents as PyLate does.

    ``tokenizer`` answers vocabulary look-ups only; each purpose encodes with its own tokenizer
    (``query_tokenizer``, ``document_tokenizer``), and ``json`` is the tokenizer as saved: all
    three are made here and never reconfigured.
    """

    def __init__(
        self,
        tokenizer_json: str,
        settings: TokenSettings,
        special: Mapping[str, str],
        source: Path,
        *,
        add: tuple[str, ...] = (),
    ) -> None:
        """``tokenizer_json``: the text of ``tokenizer.json`` (``source`` names it in errors);
        ``settings`` checked (lengths >= 3); ``special``: special token strings
        (``mask_token``, ``pad_token``...); ``add``: tokens appended to the vocabulary when
        absent (new ids after the last, as PyLate adds its prefixes)."""
        self.path = source
        self.settings = settings
        vocab = parse_tokenizer(tokenizer_json, source)
        new = [t for t in add if t and vocab.token_to_id(t) is None]
        if new:
            vocab.add_tokens(new)
        vocab.no_truncation()
        vocab.no_padding()
        self.json: str = vocab.to_str()
        self.tokenizer = vocab
        self.vocab_size = int(vocab.get_vocab_size(with_added_tokens=True))
        self.query_prefix_id = self._prefix_id(settings.query_prefix)
        self.document_prefix_id = self._prefix_id(settings.document_prefix)
        mask = self._id(special.get("mask_token"))
        eos = self._id(special.get("eos_token"))
        pad = self._id(special.get("pad_token"))
        # R-ENC-5: padding and query expansion use the mask token.
        pad_id = mask if mask is not None else eos if eos is not None else pad
        if pad_id is None:
            raise WeightsError(f"R-ENC-5: {source}: no mask, end or pad token to pad with")
        self.pad_id = pad_id
        unk = self._id(special.get("unk_token"))
        # R-ENC-7: like PyLate, a skiplist word that is not one token maps to the unknown token.
        ids = {self._id(w) for w in settings.skiplist_words}
        found = {i if i is not None else unk for i in ids}
        self.skiplist_ids = np.array(sorted(i for i in found if i is not None), dtype=np.int64)
        self.query_budget = self._budget(settings.query_length, self.query_prefix_id)
        self.document_budget = self._budget(settings.document_length, self.document_prefix_id)
        self.query_tokenizer = self._truncating(self.query_budget)
        self.document_tokenizer = self._truncating(self.document_budget)

    @staticmethod
    def _budget(length: int, prefix_id: int | None) -> int:
        """R-ENC-4: the tokens kept before the prefix is inserted."""
        return length - 1 if prefix_id is not None else length

    def _truncating(self, budget: int) -> Any:
        """A tokenizer of its own, truncating to ``budget`` tokens, never padding."""
        tokenizer = parse_tokenizer(self.json, self.path)
        tokenizer.enable_truncation(
            budget, strategy="longest_first", direction=self.settings.truncation_side
        )
        return tokenizer

    def _id(self, token: str | None) -> int | None:
        if token is None:
            return None
        found = self.tokenizer.token_to_id(token)
        return None if found is None else int(found)

    def _prefix_id(self, prefix: str) -> int | None:
        if prefix == "":
            return None
        token_id = self._id(prefix)
        if token_id is None:
            raise WeightsError(
                f"R-ENC-4: {self.path}: prefix token {prefix!r} is not in the vocabulary"
            )
        return token_id

    def tokenize(self, texts: list[str], *, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)``, both ``[len(texts), length] int64``."""
        s = self.settings
        prefix_id = self.query_prefix_id if is_query else self.document_prefix_id
        budget = self.query_budget if is_query else self.document_budget
        encodings = self._encodings(texts, is_query=is_query)
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

    def _encodings(self, texts: list[str], *, is_query: bool) -> list[Any]:
        """The truncated encodings of the cleaned texts (R-ENC-3, R-ENC-4)."""
        tokenizer = self.query_tokenizer if is_query else self.document_tokenizer
        cleaned = [str(t).strip() for t in texts]
        if self.settings.do_lower_case:
            cleaned = [t.lower() for t in cleaned]
        return list(tokenizer.encode_batch(cleaned, add_special_tokens=True))

    def truncated(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """``[len(texts)] bool``: the texts that are longer than their length and lose tokens
        to truncation (R-RET-7 counts them)."""
        return np.array([bool(e.overflowing) for e in self._encodings(texts, is_query=is_query)])

    def kept(self, ids: np.ndarray, mask: np.ndarray, *, is_query: bool) -> np.ndarray:
        """``[batch, length] bool``: the positions whose embeddings are returned (R-ENC-7)."""
        if is_query:
            if self.settings.do_query_expansion:
                return np.ones(ids.shape, dtype=bool)
            return np.asarray(mask > 0)
        return np.asarray((mask > 0) & ~np.isin(ids, self.skiplist_ids))
