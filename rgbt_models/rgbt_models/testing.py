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
    from rgbt_models.importing.seeded import seeded_sam2_state

    replace = None
    if size == "micro":
        def replace(model) -> None:
            from rgbt_models.backbone import BackboneConfig
            from rgbt_models.backbone.builder import build_sam2_parts

            model.sam_mask_decoder = build_sam2_parts(BackboneConfig(name="test", image_size=128)).sam_mask_decoder
    return seeded_sam2_state(list(SIZES[size]), replace=replace)


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


# -- the authors' released-weight layouts at the CI micro size ------------------------------------
def authors_layout_state(kind: str, seed: int = 0) -> dict:
    """A state dict in the layout of the SAMSOD (kind samsod) or SARTM (kind sartm, PST900 head)
    authors' released files, for the micro encoder, seeded: what rgbt-import reads, cheap enough
    for node and replay tests (the equivalence with the authors' code itself is
    test_authors_import.py's, at their sizes). Made by renaming a seeded model of ours that
    computes as theirs, plus a key of each part their files carry and we drop."""
    import torch

    from rgbt_models.importing.seeded import seeded_tensor

    if kind == "samsod":
        from rgbt_models.importing.samsod_authors import authors_config

        model_class, config = "samsod", authors_config("test")
    else:
        from rgbt_models.importing.sartm_authors import authors_config

        model_class, config = "sartm", authors_config("pst900", {"backbone": "test", "rank": 4, "lora_sets": 3})
    from rgbt_models.runtime.loading import untrained_model

    model = untrained_model(config)
    state = {name: seeded_tensor(name, tuple(t.shape), t.dtype, seed) for name, t in model.state_dict().items()}
    rename = _samsod_authors_names if model_class == "samsod" else _sartm_authors_names
    theirs = rename(model, state)
    prefix = "model." if model_class == "samsod" else "sam."
    theirs[prefix + "memory_attention.layers.0.linear1.weight"] = torch.zeros(4, 4)
    if model_class == "sartm":
        theirs.update({"model_clip.positional_embedding": torch.zeros(77, 8), "FRMs.0.weights": torch.zeros(2),
                       "mlp_src.layers.0.weight": torch.zeros(4, 4)})
    return theirs


def _samsod_authors_names(model, state: dict) -> dict:
    from rgbt_models.importing.samsod_authors import ADAPTER_PARTS, adapter_groups

    inverse = {ours: theirs for theirs, ours in ADAPTER_PARTS.items()}
    groups = adapter_groups(model.backbone.stage_ends)
    theirs = {}
    for name, tensor in state.items():
        if ".adapter.streams." in name:
            fields = name.split(".")
            block, stream, part, param = int(fields[4]), int(fields[7]), fields[8] + ".", fields[9]
            rgb, thermal, first = next(g for g in reversed(groups) if g[2] <= block)
            theirs[f"{(rgb, thermal)[stream]}.{block - first}.{inverse[part]}{param}"] = tensor
        else:
            theirs["model." + name[len("backbone."):].replace(".block.", ".", 1)] = tensor
    return theirs


def _sartm_authors_names(model, state: dict) -> dict:
    from rgbt_models.importing.sartm_authors import LORA_SETS, UNFILLED

    theirs = {}
    for name, tensor in state.items():
        if name in UNFILLED or ".attn.qkv.lora.b_" in name:
            continue
        if ".attn.qkv.lora.a_" in name:
            base, slice_name = name.split(".attn.qkv.lora.a_")[0], name.split(".attn.qkv.lora.a_")[1][0]
            b = state[f"{base}.attn.qkv.lora.b_{slice_name}.weight"]
            dim_in = tensor.shape[1]
            rows = slice(0, dim_in) if slice_name == "q" else slice(b.shape[0] - dim_in, b.shape[0])
            target = "sam." + base[len("backbone."):] + ".attn.qkv."
            for index, suffix in enumerate(LORA_SETS):
                theirs[f"{target}linear_a_{slice_name}{suffix}.weight"] = tensor.chunk(3, dim=0)[index]
                theirs[f"{target}linear_b_{slice_name}{suffix}.weight"] = b[rows].chunk(3, dim=1)[index]
        elif name.startswith("class_decoder."):
            theirs["sam.sam_mask_decoder." + name[len("class_decoder."):]] = tensor
        else:
            theirs["sam." + name[len("backbone."):]] = tensor
    return theirs
