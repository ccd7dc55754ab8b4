"""liuzywen/SAMSOD's released weights (`sam_rgbt.pth`) -> a SAMSOD checkpoint of ours.

Their file is `torch.save(model.state_dict())` of `sam2_model/rgbT/model_rgbt_moase_sep_512_part1.py:
Model`: a whole SAM 2.0 Hiera-L (`model.*`, video memory included) and one `Moe_Adapter` per block
and modality in groups named by block range (`rgb0_1`, `rgb2_7`, `rgb8_43`, `rgb44_47`; thermal
`depth0_1d` ...). Each Moe_Adapter is our DecoupledAdapter: router -> gate, router_2 -> mix,
adaptmlp (largest channels) -> fg, adaptmlp1 (smallest) -> bg. Their evaluation resizes both
images to 512x512 (PIL bilinear), normalises RGB with ImageNet's statistics and feeds thermal as
three channels in [0, 1]; their mask decoder leaves the dense prompt embedding out.
"""

from __future__ import annotations

from pathlib import Path

from rgbt_models.backbone import BackboneConfig
from rgbt_models.importing.ledger import ImportError_, KeyLedger
from rgbt_models.importing.source_file import read_state_dict, require_method

SIZE = 512
VIDEO_MEMORY = "SAM 2 video memory (memory attention / encoder, object pointers): image models do not use it"
# SAM2Base's modules for video (SAM 2.1 adds the last two): dropped by name, so that a stray key
# elsewhere under the model is still reported.
VIDEO_MEMORY_MODULES = ("memory_attention.", "memory_encoder.", "mask_downsample.", "maskmem_tpos_enc",
                        "no_mem_pos_enc", "no_obj_ptr", "obj_ptr_proj.", "obj_ptr_tpos_proj.", "no_obj_embed_spatial")
ADAPTER_PARTS = {"router.0.": "gate.", "router_2.0.": "mix.", "adaptmlp.down_proj.": "fg_down.",
                 "adaptmlp.up_proj.": "fg_up.", "adaptmlp1.down_proj.": "bg_down.", "adaptmlp1.up_proj.": "bg_up."}
INPUT = {"geometry": "resize", "height": SIZE, "width": SIZE, "resize": "pil_bilinear"}


# Hiera (embed_dim, blocks) -> our backbone name: SAM 2's sizes, and the CI micro encoder (tests).
HIERA_SIZES = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base_plus", (144, 48): "large", (16, 5): "test"}


def hiera_size(path: str, state: dict, prefix: str) -> str:
    """Which Hiera the file's image encoder is (SAMSOD's released file: large; SARTM's: base_plus)."""
    patch = state.get(f"{prefix}image_encoder.trunk.patch_embed.proj.weight")
    blocks = len({k[len(prefix):].split(".")[3] for k in state if k.startswith(f"{prefix}image_encoder.trunk.blocks.")})
    size = HIERA_SIZES.get((int(patch.shape[0]) if patch is not None else 0, blocks))
    if size is None:
        width = tuple(patch.shape[:1]) if patch is not None else "no patch embedding"
        raise ImportError_(f"{path}: an image encoder of width {width} with {blocks} blocks is no SAM 2 Hiera")
    return size


def authors_config(size: str = "large"):
    from rgbt_models.samsod import SAMSODConfig

    return SAMSODConfig(backbone=BackboneConfig(name=size, version="2", image_size=SIZE, thermal_input="unit"),
                        decoder_dense_prompt=False)


def adapter_groups(stage_ends: list[int]) -> list[tuple[str, str, int]]:
    """(RGB group, thermal group, first block) per Hiera stage, named as the authors' Model names them."""
    starts = [0] + [end + 1 for end in stage_ends[:-1]]
    return [(f"rgb{start}_{end}", f"depth{start}_{end}d", start) for start, end in zip(starts, stage_ends)]


def _trunk_name(rest: str) -> str:
    """Their trunk keys -> ours (our blocks are wrapped in AdaptedBlock: blocks.i.block.*)."""
    if rest.startswith("trunk.blocks."):
        index, tail = rest[len("trunk.blocks."):].split(".", 1)
        return f"trunk.blocks.{index}.block.{tail}"
    return rest


def fill_samsod(model, state: dict, path: str) -> KeyLedger:
    """Map `state` onto `model` (a SAMSOD of authors_config()); returns the finished ledger."""
    ledger = KeyLedger(state, model.state_dict(), path, "the SAMSOD authors' state dict (Hiera-L Model)")
    ledger.move_prefix("model.image_encoder.", "backbone.image_encoder.", _trunk_name)
    for part in ("sam_prompt_encoder.", "sam_mask_decoder."):
        ledger.move_prefix("model." + part, "backbone." + part)
    ledger.move("model.no_mem_embed", "backbone.no_mem_embed")
    for module in VIDEO_MEMORY_MODULES:
        ledger.drop("model." + module, VIDEO_MEMORY)
    for rgb_group, thermal_group, first in adapter_groups(model.backbone.stage_ends):
        for group, stream in ((rgb_group, 0), (thermal_group, 1)):
            for key in [k for k in state if k.startswith(group + ".")]:
                index, rest = key[len(group) + 1:].split(".", 1)
                part = next((p for p in ADAPTER_PARTS if rest.startswith(p)), None)
                if part is None:
                    continue  # left unconsumed: finish() names it
                ours = (f"backbone.image_encoder.trunk.blocks.{first + int(index)}.adapter.streams.{stream}."
                        f"{ADAPTER_PARTS[part]}{rest[len(part):]}")
                ledger.move(key, ours)
    ledger.state = ledger.finish()
    return ledger


def convert_samsod(path: str | Path):
    """(model, ledger): the authors' SAMSOD as a SAMSOD of ours, every weight loaded, in eval mode."""
    from rgbt_models.samsod import SAMSOD

    state = read_state_dict(path)
    require_method(path, state, "samsod")
    model = SAMSOD(authors_config(hiera_size(str(path), state, "model.")), pretrained=False)
    ledger = fill_samsod(model, state, str(path))
    model.load_state_dict(ledger.state, strict=True)
    model.input_size = (SIZE, SIZE)
    return model.eval(), ledger
