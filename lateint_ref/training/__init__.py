"""Training late-interaction models: losses, the trainer, its data and hard-negative mining."""
