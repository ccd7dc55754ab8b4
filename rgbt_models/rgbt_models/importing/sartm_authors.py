"""wahaha-debug/SARTM's released weights (e.g. `SARMT_PST_89.88.pth`) -> a SARTM checkpoint of ours.

Their file is the state dict of `sam2/sam_lora_language.py:LoRA_Sam` as `tools/val_mm.py` loads it:
a whole SAM 2.0 Hiera-B+ (`sam.*`) whose mask decoder has one mask token per class after token 0;
three q/v LoRA sets per block (`attn.qkv.linear_{a,b}_{q,v}{,2,3}`), summed and shared by both
modalities, which are one rank-3r LoRA (A stacked, B side by side); the FRM/FFM fusion, which
feeds only the auxiliary head their evaluation does not read; never-called MLPs; and CLIP, the
training-time text teacher. At a Hiera stage transition their LoRA updates only the first
`dim_in` channels of q and the last `dim_in` of v: B is placed there, zeros elsewhere.
Their evaluation zero-pads both images bottom/right to 1280x1280 (no resize), normalises RGB
with ImageNet's statistics and feeds thermal as three channels in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.data.classes import class_list
from rgbt_models.importing.ledger import ImportError_, KeyLedger
from rgbt_models.importing.samsod_authors import VIDEO_MEMORY, VIDEO_MEMORY_MODULES, hiera_size
from rgbt_models.importing.source_file import read_state_dict, require_method

# --dataset -> our class-list preset and the evaluation size of the authors' config (configs/*_rgbt.yaml).
SARTM_DATASETS = {"pst900": ("pst900", 1280), "mfnet": ("mfnet", 1280), "fmb": ("fmb", 1280)}
LORA_SETS = ("", "2", "3")
DROPPED = {
    "model_clip.": "CLIP, the CMKD text teacher: used in training only",
    "FRMs.": "FRM/FFM fusion: feeds only the auxiliary head, which the authors' evaluation does not read",
    "FFMs.": "FRM/FFM fusion: feeds only the auxiliary head, which the authors' evaluation does not read",
    "mlp_src.": "built in LoRA_Sam.__init__, never called",
    "mlp_feat_s0.": "built in LoRA_Sam.__init__, never called",
    "mlp_feat_s1.": "built in LoRA_Sam.__init__, never called",
    "linear_fuse.": "built in LoRA_Sam.__init__, never called",
    "linear_pred.": "built in LoRA_Sam.__init__, never called",
}
UNFILLED = ("text_embeddings", "prototype_memory")  # ours, training-only buffers (zeros)


def input_spec(size: int) -> dict:
    return {"geometry": "pad", "height": size, "width": size}


def describe_file(path: str, state: dict[str, torch.Tensor]) -> dict:
    """Backbone size, classes and LoRA rank the file's shapes imply."""
    patch = state.get("sam.image_encoder.trunk.patch_embed.proj.weight")
    tokens = state.get("sam.sam_mask_decoder.mask_tokens.weight")
    a_q = state.get("sam.image_encoder.trunk.blocks.0.attn.qkv.linear_a_q.weight")
    if patch is None or tokens is None or a_q is None:
        missing = [k for k, v in (("patch_embed", patch), ("mask_tokens", tokens), ("linear_a_q", a_q)) if v is None]
        raise ImportError_(f"{path}: not the SARTM authors' state dict (LoRA_Sam): no {', '.join(missing)}")
    size = hiera_size(path, state, "sam.")
    sets = [s for s in LORA_SETS if f"sam.image_encoder.trunk.blocks.0.attn.qkv.linear_a_q{s}.weight" in state]
    return {"backbone": size, "classes": int(tokens.shape[0]) - 1, "rank": int(a_q.shape[0]), "lora_sets": len(sets)}


def authors_config(dataset: str, shape: dict):
    from rgbt_models.sartm import SARTMConfig

    preset, size = SARTM_DATASETS[dataset]
    return SARTMConfig(backbone=BackboneConfig(name=shape["backbone"], version="2", image_size=size,
                                               thermal_input="unit"),
                       classes=preset, lora_rank=shape["rank"] * shape["lora_sets"], variant="authors",
                       loss={"preset": "ours", "cmkd_weight": 0.0, "prototype_weight": 0.0})


def _move_lora(ledger: KeyLedger, block: int, target: dict[str, torch.Tensor]) -> None:
    theirs = f"sam.image_encoder.trunk.blocks.{block}.attn.qkv."
    ours = f"backbone.image_encoder.trunk.blocks.{block}.attn.qkv.lora."
    sets = [s for s in LORA_SETS if f"{theirs}linear_a_q{s}.weight" in ledger.source]
    for slice_name in ("q", "v"):
        a_keys = [f"{theirs}linear_a_{slice_name}{s}.weight" for s in sets]
        b_keys = [f"{theirs}linear_b_{slice_name}{s}.weight" for s in sets]
        a = torch.cat([ledger.take(k) for k in a_keys], dim=0)  # (sets * r, dim_in)
        b_in = torch.cat([ledger.take(k) for k in b_keys], dim=1)  # (dim_in, sets * r)
        b = torch.zeros(target[ours + f"b_{slice_name}.weight"].shape, dtype=b_in.dtype)
        dim_in, dim_out = b_in.shape[0], b.shape[0]
        if dim_in > dim_out:
            raise ImportError_(f"{ledger.path}: {b_keys[0]} is {dim_in} wide, more than the {dim_out} of the slice")
        rows = slice(0, dim_in) if slice_name == "q" else slice(dim_out - dim_in, dim_out)
        b[rows] = b_in
        ledger.put(ours + f"a_{slice_name}.weight", a, *a_keys)
        ledger.put(ours + f"b_{slice_name}.weight", b, *b_keys)


def fill_sartm(model, state: dict, path: str) -> KeyLedger:
    target = model.state_dict()
    ledger = KeyLedger(state, target, path, "the SARTM authors' state dict (LoRA_Sam)")
    for block in range(len(model.backbone.blocks)):
        _move_lora(ledger, block, target)
    ledger.move_prefix("sam.image_encoder.", "backbone.image_encoder.")
    ledger.move_prefix("sam.sam_prompt_encoder.", "backbone.sam_prompt_encoder.")
    ledger.move_prefix("sam.sam_mask_decoder.", "class_decoder.")
    ledger.move("sam.no_mem_embed", "backbone.no_mem_embed")
    for module in VIDEO_MEMORY_MODULES:
        ledger.drop("sam." + module, VIDEO_MEMORY)
    for prefix, reason in DROPPED.items():
        ledger.drop(prefix, reason)
    ledger.state = ledger.finish(allowed_unfilled=UNFILLED)
    return ledger


def convert_sartm(path: str | Path, dataset: str):
    """(model, ledger): the authors' SARTM as a SARTM of ours (variant authors), in eval mode."""
    from rgbt_models.sartm import SARTM

    if dataset not in SARTM_DATASETS:
        raise ImportError_(f"--dataset must be one of {sorted(SARTM_DATASETS)}, got {dataset!r}")
    state = read_state_dict(path)
    require_method(path, state, "sartm")
    shape = describe_file(str(path), state)
    expected = class_list(SARTM_DATASETS[dataset][0]).num_classes
    if shape["classes"] != expected:
        fits = [name for name, (preset, _) in SARTM_DATASETS.items()
                if class_list(preset).num_classes == shape["classes"]]
        raise ImportError_(f"{path}: its class head has {shape['classes']} classes, --dataset {dataset} has {expected}"
                           + (f" (it fits --dataset {' or '.join(fits)})" if fits else ""))
    model = SARTM(authors_config(dataset, shape), pretrained=False)
    ledger = fill_sartm(model, state, str(path))
    model.load_state_dict(ledger.state, strict=True)
    model.input_size = (SARTM_DATASETS[dataset][1],) * 2
    return model.eval(), ledger
