"""What a self-contained checkpoint costs against a version-1 one (trained weights only), at SAM 2.1 tiny.

A self-contained file (format version 2, what rgbt-train and rgbt-adapt write) holds the frozen
encoder too, so the robot needs no SAM 2 file; a version-1 file held only the trained weights
and read the rest from Meta's file on every load. Both are loaded from the page cache,
interleaved round by round; the file sizes and medians are printed. The SAM 2.1 file is the
test suite's Meta-format one (sam2's own builder, random weights: the same sizes as Meta's).
No target: the table goes in docs/performance.md ("Checkpoint size and load time").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import apply_threads, bench_arguments, interleaved_seconds, print_table


def write_v1(model, path: Path) -> None:
    """A version-1 file: the weights that train, the config naming the SAM 2 file."""
    import torch

    from rgbt_models.checkpoint import FORMAT

    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name for name, _ in model.named_buffers() if not name.startswith("backbone.")}
    state = {k: v for k, v in model.state_dict().items() if k in trainable or k in buffers}
    torch.save({"format": FORMAT, "kind": model.kind, "version": 1, "config": model.config.to_dict(),
                "state_dict": state, "extra": {}}, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    import torch

    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.runtime.loading import load_model, untrained_model
    from rgbt_models.samsod import SAMSOD, SAMSODConfig
    from rgbt_models.sartm import SARTM, SARTMConfig
    from rgbt_models.testing import official_sam2_file

    backbone = BackboneConfig(name="tiny", image_size=512, checkpoint=str(official_sam2_file("tiny")))
    models = {"SAMSOD": (SAMSOD, untrained_model(SAMSODConfig(backbone=backbone))),
              "SARTM (MFNet)": (SARTM, untrained_model(SARTMConfig(backbone=backbone, classes="mfnet")))}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (cls, model) in models.items():
            v1, v2 = Path(folder) / f"{cls.kind}_v1.pt", Path(folder) / f"{cls.kind}_v2.pt"
            write_v1(model, v1)
            model.save(v2)
            samples = interleaved_seconds({"v1": lambda p=v1, k=cls.kind: load_model(k, p),
                                           "v2": lambda p=v2, k=cls.kind: load_model(k, p)},
                                          args.rounds)
            for version, path in (("1: trained weights + SAM 2 file", v1), ("2: self-contained", v2)):
                key = "v1" if version.startswith("1") else "v2"
                rows.append([name, version, f"{path.stat().st_size / 1e6:.1f}",
                             f"{statistics.median(samples[key]):.2f}"])
    print(f"SAM 2.1 tiny, {args.rounds} interleaved rounds, CPU threads {torch.get_num_threads()}; "
          f"the SAM 2 file is {official_sam2_file('tiny').stat().st_size / 1e6:.1f} MB")
    print_table(["model", "checkpoint format", "file (MB)", "load (s, median)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
