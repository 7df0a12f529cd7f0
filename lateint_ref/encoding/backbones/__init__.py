"""Backbones written from their definitions: BERT and ModernBERT, in PyTorch and NumPy."""
