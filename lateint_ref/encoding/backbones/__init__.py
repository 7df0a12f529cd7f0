"""Backbones written from their definitions: BERT and ModernBERT, in PyTorch and NumPy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A backbone's config.json as read (read-only; fields checked by encoding.architectures).
Config = Mapping[str, Any]
