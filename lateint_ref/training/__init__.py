"""Training late-interaction models (spec/training.md, spec/training_data.md)."""
