"""Texts to token embeddings as PyLate computes them (spec/encoder.md): model folders (``folder``,
the one reader; ``saving``; ``weights``), tokenization (``tokens``), backbones
(``architectures``, ``backbones/``) and the ``Encoder`` that joins them."""

from lateint_ref.encoding.encoder import Encoder

__all__ = ["Encoder"]
