"""What runs a trained model on a machine: loading (`load_model`: tools load models through it),
placement on a device and precision (`placement`), ONNX Runtime sessions, int8 quantisation,
export, the CPU thread policy and timing.

Imports no torch: the thread policy (`threads`) must run before torch loads, and
`import rgbt_models` runs it through here.
"""

from __future__ import annotations


def load_model(kind: str | None, checkpoint: str, config: str = "", allow_untrained: bool = False):
    """The trained model of `kind` (None: whichever the file holds) from `checkpoint`; or, with
    allow_untrained and no checkpoint, a random-weight model built from the model config YAML
    `config` (tests only). `placement.ModelLoadError` names the setting, the file and the problem."""
    from rgbt_models.runtime.loading import load_model as load

    return load(kind, checkpoint, config, allow_untrained)
