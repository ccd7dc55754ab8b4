"""Loss functions of the models (one file per loss)."""
