"""The table of models: a task name to its model class and config class."""

from __future__ import annotations

from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig

MODELS = {"samsod": (SAMSOD, SAMSODConfig), "sartm": (SARTM, SARTMConfig)}
