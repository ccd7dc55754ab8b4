"""Turn the authors' released weight files into checkpoints of ours (`rgbt-import`).

One module per method maps the authors' state dict onto the model of ours that reproduces their
computation (SAMSOD with `decoder_dense_prompt: false`; SARTM `variant: authors`), through a
`KeyLedger` that accounts for every key of their file exactly once: loaded into one tensor of
ours, or dropped with the reason (SAM 2's video memory, CLIP, modules their evaluation never runs).
"""

from rgbt_models.importing.ledger import ImportError_, KeyLedger
from rgbt_models.importing.samsod_authors import convert_samsod
from rgbt_models.importing.sartm_authors import SARTM_DATASETS, convert_sartm

__all__ = ["SARTM_DATASETS", "ImportError_", "KeyLedger", "convert_samsod", "convert_sartm"]
