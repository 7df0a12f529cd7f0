"""Training late-interaction models: its data (spec/training_data.md) and hard-negative mining
(spec/mining.md)."""
