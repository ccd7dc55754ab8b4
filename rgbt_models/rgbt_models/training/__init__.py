"""Training of SAMSOD and SARTM: configs, the training loop with exact resume, distributed helpers."""
