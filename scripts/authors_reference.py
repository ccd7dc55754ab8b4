"""Run the authors' own model code on seeded weights and inputs (the reference side of the
equivalence checks with rgbt-import). Run it with the authors' repository first on the path,
in its own process: both repositories vendor a package named `sam2` that clashes with ours.

    PYTHONPATH=/path/to/SAMSOD python scripts/authors_reference.py samsod --out DIR
    PYTHONPATH=/path/to/SARTM  python scripts/authors_reference.py sartm --size 256 --out DIR

Writes DIR/authors.pth (their state dict, saved as their training saves it: torch.save of
model.state_dict()), DIR/manifest.json (its keys, shapes and dtypes) and DIR/reference.pt (the
inputs and the authors' outputs). Patched for the CPU, and nothing else: `build_sam2` is called
with device="cpu" and the input size as the config's image_size (SAMSOD's published config says
1024, with which its 512 Model cannot run: the decoder's position encoding would be 64x64 for a
32x32 embedding); SARTM's CUDA-only prototype memory (training) is built on the CPU; CLIP and
icecream, imported at the top of sam_lora_language.py and used only in training, are stubs, and so
is timm where it is not installed (ffm.py takes an initialiser from it); the
model's CLIP is None (its weights are in a released file; rgbt-import drops them). At a SARTM size
other than 1280 the auxiliary output, hard-coded to 1280x1280 and discarded by the evaluation, is
resized to the input size, because forward reshapes the decoder's output by that size.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _seeded():
    path = HERE.parent / "rgbt_models" / "rgbt_models" / "importing" / "seeded.py"
    spec = importlib.util.spec_from_file_location("rgbt_seeded", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stub(name: str, **attributes) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module


def _cpu_build_sam2(size: int):
    import sam2.build_sam as build_sam

    original = build_sam.build_sam2

    def build(config_file, ckpt_path=None, device="cuda", mode="eval", hydra_overrides_extra=(), **kwargs):
        overrides = [*hydra_overrides_extra, f"++model.image_size={size}"]
        return original(config_file, ckpt_path, device="cpu", mode=mode, hydra_overrides_extra=overrides, **kwargs)

    return build


def samsod_model(size: int):
    import sam2_model.rgbT.model_rgbt_moase_sep_512_part1 as authors

    authors.build_sam2 = _cpu_build_sam2(size)
    options = argparse.Namespace(sam2_cfg="sam2_hiera_l.yaml", sam2_checkpoint=None, freeze_image_encoder=True)
    return authors.Model(options)


def sartm_model(size: int):
    _stub("clip", tokenize=None, load=None)
    _stub("icecream", ic=print)
    try:
        import timm  # noqa: F401 - ffm.py takes trunc_normal_ (initialisation only) from it
    except ImportError:
        _stub("timm")
        _stub("timm.models")
        _stub("timm.models.layers", trunc_normal_=torch.nn.init.trunc_normal_)
    try:
        import torchvision  # noqa: F401 - sam_lora_language imports torchvision.transforms (unused)
    except Exception:
        _stub("torchvision")
        _stub("torchvision.transforms")
        sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
    import sam2.sam_lora_language as authors

    class PrototypesOnCPU(authors.PrototypeSegmentation):
        def __init__(self, num_classes, feature_dim):
            self.num_classes, self.feature_dim = num_classes, feature_dim
            self.global_prototypes = torch.zeros((num_classes, feature_dim))

    authors.PrototypeSegmentation = PrototypesOnCPU
    sam = _cpu_build_sam2(size)("sam2_hiera_b+.yaml", None)
    model = authors.LoRA_Sam(None, sam, r=16)
    if size != 1280:  # fpn_fuse's (auxiliary, discarded) output is hard-coded to 1280x1280, and forward
        original = model.fpn_fuse  # reshapes the decoder's output by its size: give it the input's size

        def fpn_fuse(feat, high_res_0, high_res_1):
            return torch.nn.functional.interpolate(original(feat, high_res_0, high_res_1), size=(size, size))

        model.fpn_fuse = fpn_fuse
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", choices=("samsod", "sartm"))
    parser.add_argument("--size", type=int, help="input side (SAMSOD: 512, fixed by its Model; SARTM: its config's "
                                                 "1280, or smaller)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: torch's own choice)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = args.size or (512 if args.method == "samsod" else 1280)
    model = samsod_model(size) if args.method == "samsod" else sartm_model(size)
    own = model.state_dict()
    seeded = _seeded()
    manifest = {key: list(value.shape) for key, value in own.items()}
    dtypes = {key: str(value.dtype).replace("torch.", "") for key, value in own.items()}
    model.load_state_dict(seeded.seeded_state_dict(manifest, args.seed, dtypes), strict=True)
    model.eval()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "authors.pth")
    (out / "manifest.json").write_text(json.dumps({"method": args.method, "size": size, "seed": args.seed,
                                                   "shapes": manifest, "dtypes": dtypes}))
    rgb01, thermal01 = seeded.seeded_images(size, size, args.seed)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    rgb, thermal = (rgb01 - mean) / std, thermal01.expand(-1, 3, -1, -1).contiguous()
    start = time.perf_counter()
    if args.method == "samsod":  # output_maps_RGBT.py: `_, _, _, res = model(image, any_modal)`
        heads = model(rgb, thermal)
        result = {"output": heads[3], "heads": torch.cat(heads[:3], dim=1)}
    else:  # tools/val_mm.py: `m_output, ... = model(images, labels, multimask_output=True)`
        labels = torch.zeros(1, size, size, dtype=torch.long)
        m_output, _, _, _ = model([rgb, thermal], labels, multimask_output=True)
        result = {"output": m_output}
    result["seconds"] = time.perf_counter() - start
    torch.save({"rgb01": rgb01, "thermal01": thermal01, **result}, out / "reference.pt")
    print(json.dumps({"method": args.method, "size": size, "keys": len(manifest),
                      "output": list(result["output"].shape)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
