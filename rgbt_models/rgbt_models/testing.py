"""Meta-format SAM 2.1 checkpoint files for the tests, made by the `sam2` package's own builder.

`official_sam2_file("tiny")` is a file with exactly the layout of Meta's
`sam2.1_hiera_tiny.pt`: `{'model': state_dict}` with every key of the full SAM 2 model (the
video-memory parts included), built by `sam2.build_sam.build_sam2` from sam2's own
`sam2.1_hiera_t` config with seeded random weights. `official_sam2_file("micro")` has the
same key layout at the sizes of the project's `test` backbone (for tests where speed matters):
the same builder with the encoder and memory parts shrunk by hydra overrides; its mask decoder
is built as rgbt_models builds it for that config, because sam2 hard-codes a 2048-wide MLP there.
Both are cached in the source checkout's build/test-fixtures/ (never committed; elsewhere in
$RGBT_TEST_CACHE or ~/.cache/rgbt-perception) and written atomically. For tests and benchmarks:
nothing of the library imports this module.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("RGBT_TEST_CACHE") or (
    _CHECKOUT / "build" / "test-fixtures" if (_CHECKOUT / "rgbt_models" / "setup.py").is_file()
    else Path.home() / ".cache" / "rgbt-perception"))
SAM2_T_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SEED = 2_1_0

# The project's `test` backbone (rgbt_models/configs/backbone/test.yaml) in sam2's own schema,
# memory attention / encoder scaled to its 32-channel neck (same layers, so the same keys).
MICRO_OVERRIDES = [
    "model.image_encoder.trunk.embed_dim=16", "model.image_encoder.trunk.stages=[1,1,2,1]",
    "model.image_encoder.trunk.global_att_blocks=[3]", "++model.image_encoder.trunk.window_spec=[8,4,4,2]",
    "model.image_encoder.trunk.window_pos_embed_bkg_spatial_size=[4,4]",
    "model.image_encoder.neck.d_model=32", "model.image_encoder.neck.position_encoding.num_pos_feats=32",
    "model.image_encoder.neck.backbone_channel_list=[128,64,32,16]",
    "model.memory_attention.d_model=32", "model.memory_attention.layer.d_model=32",
    "model.memory_attention.layer.dim_feedforward=64",
    "model.memory_attention.layer.self_attention.embedding_dim=32",
    "model.memory_attention.layer.cross_attention.embedding_dim=32",
    "model.memory_attention.layer.cross_attention.kv_in_dim=16",
    "model.memory_encoder.out_dim=16", "model.memory_encoder.position_encoding.num_pos_feats=16",
    "model.memory_encoder.fuser.layer.dim=32", "model.image_size=128",
]
SIZES = {"tiny": [], "micro": MICRO_OVERRIDES}
FILE_NAMES = {"tiny": "sam2.1_hiera_tiny.pt", "micro": "sam2.1_hiera_micro.pt"}


def build_official_state(size: str) -> dict:
    """{'model': state_dict} of a seeded random SAM 2.1 model built by sam2's builder."""
    import torch
    from sam2.build_sam import build_sam2

    generator_state = torch.get_rng_state()
    torch.manual_seed(SEED)
    try:
        model = build_sam2(SAM2_T_CONFIG, ckpt_path=None, device="cpu", mode="eval",
                           hydra_overrides_extra=list(SIZES[size]))
        if size == "micro":
            from rgbt_models.backbone import BackboneConfig
            from rgbt_models.backbone.builder import build_sam2_parts

            model.sam_mask_decoder = build_sam2_parts(BackboneConfig(name="test", image_size=128)).sam_mask_decoder
    finally:
        torch.set_rng_state(generator_state)
    return {"model": model.state_dict()}


def official_sam2_file(size: str = "tiny") -> Path:
    """The cached Meta-format file of `size` (tiny | micro), made on first use."""
    import torch

    path = CACHE / FILE_NAMES[size]
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=CACHE, suffix=".tmp")
        os.close(fd)
        torch.save(build_official_state(size), tmp)
        os.replace(tmp, path)
    return path


# -- thermal normalisation over time: a hot object entering a radiometric camera's view -------------
def hot_object_sequence(frames: int = 30, enter: int = 10, height: int = 64, width: int = 80, seed: int = 0):
    """(images, stamps, background mask): 10 Hz centi-kelvin frames of a 22 C background with
    sensor noise, and from frame `enter` on a 95 C object (an engine) of 1/12 of the image
    sliding in from the left; the mask marks pixels the object never covers."""
    import numpy as np

    rng = np.random.default_rng(seed)
    base = 29515 + 150 * np.linspace(0, 1, width)[None, :] + np.zeros((height, 1))
    side = int(np.sqrt(height * width / 12))
    top = (height - side) // 2
    images, covered = [], np.zeros((height, width), bool)
    for index in range(frames):
        image = base + rng.normal(0, 8, (height, width))
        if index >= enter:
            right = min(width, (index - enter + 1) * side // 3)
            image[top:top + side, max(0, right - side):right] = 36815
            covered[top:top + side, max(0, right - side):right] = True
        images.append(np.clip(image, 0, 65535).astype(np.uint16))
    return images, [0.1 * i for i in range(frames)], ~covered


def background_change(images, stamps, background, setup) -> float:
    """Largest frame-to-frame mean |change| of the normalised background (0..1), with the
    pipeline's normalisation and its state over the stamps."""
    import numpy as np

    from rgbt_models.data.thermal import StableRange, thermal_to_unit

    tracker, previous, worst = StableRange(), None, 0.0
    for image, stamp in zip(images, stamps):
        unit = thermal_to_unit(image, setup, tracker, stamp)
        if previous is not None:
            worst = max(worst, float(np.abs(unit - previous)[background].mean()))
        previous = unit
    return worst
