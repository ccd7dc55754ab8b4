"""Reading an authors' weight file: weights_only, a plain state dict, which method it belongs to."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

from rgbt_models.checkpoint import read_checkpoint
from rgbt_models.importing.ledger import ImportError_


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The file's state dict (torch.load with weights_only=True: a file that needs pickled code is
    refused, never run). A DataParallel "module." prefix is removed."""
    content = read_checkpoint(path)
    if isinstance(content, dict) and isinstance(content.get("state_dict"), dict) and "format" not in content:
        content = content["state_dict"]
    if isinstance(content, dict) and content.get("format") == "rgbt_models":
        raise ImportError_(f"{path}: already a checkpoint of ours (kind {content.get('kind')!r}): nothing to import")
    if not isinstance(content, dict) or not content or not all(isinstance(v, torch.Tensor) for v in content.values()):
        found = sorted(content)[:3] if isinstance(content, dict) else type(content).__name__
        raise ImportError_(f"{path}: expected a state dict (name -> tensor) as the authors' training saves it, "
                           f"found {found}")
    if all(key.startswith("module.") for key in content):
        content = {key[len("module."):]: value for key, value in content.items()}
    return content


def which_method(state: dict[str, torch.Tensor]) -> str | None:
    """'samsod' (liuzywen/SAMSOD's Model), 'sartm' (wahaha-debug/SARTM's LoRA_Sam), an official
    SAM 2 file's 'sam2', or None."""
    if any(key.startswith("sam.image_encoder.") for key in state):
        return "sartm"
    adapters = re.compile(r"rgb\d+_\d+\.")  # the authors' per-stage adapter groups: rgb0_1, rgb2_7 ...
    if any(key.startswith("model.image_encoder.") for key in state) and any(adapters.match(k) for k in state):
        return "samsod"
    if any(key.startswith("image_encoder.trunk.") for key in state):
        return "sam2"
    return None


WRONG_FILE = {
    "sartm": "the SARTM authors' weights (LoRA_Sam): use rgbt-import sartm-authors",
    "samsod": "the SAMSOD authors' weights: use rgbt-import samsod-authors",
    "sam2": "Meta's SAM 2 weights (no SAMSOD / SARTM parts): it goes in backbone.checkpoint of a model config",
}


def require_method(path: str | Path, state: dict[str, torch.Tensor], method: str) -> None:
    found = which_method(state)
    if found == method:
        return
    if found is not None:
        raise ImportError_(f"{path}: this is {WRONG_FILE[found]}")
    raise ImportError_(f"{path}: not the {method.upper()} authors' state dict (its keys begin "
                       f"{sorted(state)[:3]})")
