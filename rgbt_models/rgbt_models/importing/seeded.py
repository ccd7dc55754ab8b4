"""Seeded random weights for a state dict described only by its keys and shapes.

The equivalence checks with the authors' code (scripts/authors_reference.py, the test of
test_authors_import.py, benchmarks/bench_authors.py) fill the authors' model and, through
rgbt-import, ours from the same numbers without shipping a weight file: each tensor is drawn from
its own generator, seeded by (seed, the key), so the manifest of keys and shapes is enough to
rebuild it anywhere. Every tensor is non-zero (the authors' zero-initialised adapter and LoRA
up-projections included, or the check would not exercise them), at scales that keep a deep
random network's activations finite. Imports nothing but torch (the authors' process loads it
from its file path, beside their own `sam2` package).
"""

from __future__ import annotations

import zlib

import torch


def seeded_tensor(key: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(key.encode())) % (2**63))
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)  # num_batches_tracked
    name = key.rsplit(".", 1)[-1]
    noise = torch.randn(shape, generator=generator)
    if name == "running_var":
        return (1.0 + 0.1 * noise.abs()).to(dtype)
    if name == "weight" and len(shape) == 1:  # norms: around 1
        return (1.0 + 0.1 * noise).to(dtype)
    if name == "weight" and len(shape) >= 2:  # linear / conv: 0.5 / sqrt(fan_in)
        fan_in = 1
        for side in shape[1:]:
            fan_in *= side
        return (noise * (0.5 / fan_in**0.5)).to(dtype)
    return (0.02 * noise).to(dtype)  # biases, embeddings, tokens, position embeddings


def seeded_state_dict(manifest: dict[str, list[int]], seed: int = 0,
                      dtypes: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """{key: shape} (and optionally {key: dtype name}) -> {key: seeded tensor}."""
    dtypes = dtypes or {}
    return {key: seeded_tensor(key, tuple(shape), getattr(torch, dtypes.get(key, "float32")), seed)
            for key, shape in manifest.items()}


def write_seeded_file(manifest_path, output, seed: int = 0) -> dict:
    """Write the state dict a manifest file describes ({"shapes", "dtypes"}: the committed fixtures
    of the authors' files) with seeded weights, as the authors' training saves it; the manifest."""
    import json
    from pathlib import Path

    manifest = json.loads(Path(manifest_path).read_text())
    torch.save(seeded_state_dict(manifest["shapes"], seed, manifest["dtypes"]), output)
    return manifest


def seeded_images(height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """An RGB (1,3,H,W) and a grey thermal (1,1,H,W) image in [0, 1], 8-bit steps, smooth enough
    to have structure: what both sides of a check feed their models."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 4, max(2, height // 16), max(2, width // 16), generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    fine = torch.rand(1, 4, height, width, generator=generator)
    images = (0.8 * smooth + 0.2 * fine).mul(255).round().div(255)
    return images[:, :3].contiguous(), images[:, 3:].contiguous()


AUTHORS_FILES = {"samsod": "samsod_manifest.json", "sartm": "sartm_manifest.json"}  # in the fixtures folder


def write_authors_stand_in(method: str, output) -> None:
    """A file in the layout of the authors' released `method` file, with seeded weights; from the
    committed manifests of the source checkout (FileNotFoundError elsewhere)."""
    from pathlib import Path

    manifest = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "authors" / AUTHORS_FILES[method]
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: the manifests ship with the source checkout (the pip route)")
    write_seeded_file(manifest, output)


SAM2_FILES = {"sam2.1-tiny": "configs/sam2.1/sam2.1_hiera_t.yaml"}  # Meta's files: sam2's own configs
SAM2_SEED = 2_1_0


def seeded_sam2_state(overrides: list[str] | None = None, seed: int = SAM2_SEED, replace=None,
                      config: str = SAM2_FILES["sam2.1-tiny"]) -> dict:
    """{'model': state_dict} in the layout of Meta's SAM 2.1 files: the model sam2's builder makes
    from its `config` (with hydra `overrides`), seeded; `replace(model)` may swap parts first. The
    global RNG is left as it was."""
    from sam2.build_sam import build_sam2

    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = build_sam2(config, ckpt_path=None, device="cpu", mode="eval", hydra_overrides_extra=overrides or [])
        if replace is not None:
            replace(model)
    finally:
        torch.set_rng_state(generator_state)
    return {"model": model.state_dict()}


def main(argv: list[str] | None = None) -> int:
    """python -m rgbt_models.importing.seeded samsod|sartm|sam2.1-tiny FILE: a stand-in for an
    authors' file (their keys, shapes and dtypes, seeded weights), to try rgbt-import without the
    download, or for Meta's SAM 2.1 tiny file (its model built by sam2, seeded). It loads and runs
    like theirs; its outputs mean nothing."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m rgbt_models.importing.seeded", description=main.__doc__)
    parser.add_argument("method", choices=sorted(AUTHORS_FILES) + sorted(SAM2_FILES))
    parser.add_argument("output", help="the file to write, e.g. sam_rgbt.pth, SARMT_PST_89.88.pth or "
                                       "sam2.1_hiera_tiny.pt")
    args = parser.parse_args(argv)
    if args.method in SAM2_FILES:
        from rgbt_models.checkpoint import atomic_torch_save

        atomic_torch_save(seeded_sam2_state(config=SAM2_FILES[args.method]), args.output)
        layout = "Meta's SAM 2.1 layout"
    else:
        try:
            write_authors_stand_in(args.method, args.output)
        except FileNotFoundError as error:
            parser.error(str(error))
        layout = f"the {args.method} authors' layout"
    size = Path(args.output).stat().st_size / 2**20
    print(f"wrote {args.output}: {layout} with seeded weights ({size:.0f} MiB)")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
