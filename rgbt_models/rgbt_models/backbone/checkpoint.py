"""Load Meta's official SAM 2 checkpoints (`{'model': state_dict}`) into our SAM 2 parts (read,
like every checkpoint file, through rgbt_models.checkpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from rgbt_models.checkpoint import CheckpointError, read_checkpoint, what_does_not_fit

# Prefixes of the checkpoint that image-level models use; the video-memory rest is ignored.
USED_PREFIXES = ("image_encoder.", "sam_prompt_encoder.", "sam_mask_decoder.", "no_mem_embed")


def sam2_file(path: str | Path) -> Path:
    """The SAM 2 file `backbone.checkpoint` names, which must exist. A relative path is resolved
    against the working directory, so the error says which folder that was and what to set."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    where = "" if path.is_absolute() else f" (a relative path, looked for in the working directory {Path.cwd()})"
    raise CheckpointError(f"{path}: SAM 2 checkpoint file not found{where}; set backbone.checkpoint "
                          "(model.backbone.checkpoint in a training config) to the file's location")


def load_sam2_checkpoint(modules: Mapping[str, nn.Module | nn.Parameter], path: str | Path) -> None:
    """Copy the official weights into `modules` (name -> module, names as in the checkpoint).

    Every parameter and buffer of `modules` must be in the file with the same shape; keys of
    other SAM 2 parts (memory attention, memory encoder ...) are ignored.
    """
    content = read_checkpoint(path)
    if not isinstance(content, Mapping) or "model" not in content:
        keys = list(content)[:5] if isinstance(content, Mapping) else type(content).__name__
        raise CheckpointError(f"{path}: expected an official SAM 2 checkpoint {{'model': state_dict}}, "
                              f"found {keys}")
    state = content["model"]
    expected: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        if isinstance(module, nn.Parameter):
            expected[name] = module
        else:
            for key, tensor in module.state_dict(keep_vars=True).items():
                expected[f"{name}.{key}"] = tensor
    missing = [key for key in expected if key not in state]
    mismatched = [f"{key}: file {tuple(state[key].shape)} vs model {tuple(expected[key].shape)}"
                  for key in expected if key in state and state[key].shape != expected[key].shape]
    if missing or mismatched:
        details = what_does_not_fit({"missing key(s)": missing, "shape mismatch(es)": mismatched})
        raise CheckpointError(f"{path}: does not match the configured SAM 2 model ({details}). "
                              "Check backbone.name and backbone.version against the file.")
    with torch.no_grad():
        for key, tensor in expected.items():
            tensor.copy_(state[key])


def official_state_dict(modules: Mapping[str, nn.Module | nn.Parameter]) -> dict[str, torch.Tensor]:
    """The inverse of load_sam2_checkpoint: the keys an official checkpoint has for `modules`."""
    state: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        if isinstance(module, nn.Parameter):
            state[name] = module.detach().clone()
        else:
            state.update({f"{name}.{k}": v.detach().clone() for k, v in module.state_dict().items()})
    return state
