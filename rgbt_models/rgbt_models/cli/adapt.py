"""rgbt-adapt pretrain|sce|detector|adapter --config FILE: UUSOD, training saliency without labels.

  pretrain  stage 0, where no pre-trained SAM 2 weights exist: the encoder by masked image
            modelling on unlabeled RGB and thermal frames; writes <output_dir>/sam2_pretrained.pt,
            a SAM 2 file the next stages name as model.backbone.checkpoint
  sce       stage 1: the saliency cue extractor on the frozen SAM 2 encoder (PCL-SD)
  detector  stage 2: SAMSOD from the SCE's pseudo-labels, rewritten every epoch by SPR
  adapter   adapter tuning: a trained SAMSOD to a new domain (your robot's bags); only
            zero-initialised adapters learn, on its deepest feature (the default) or on every
            level (adapter_levels: all, as configs/uusod/adapter_rover.yaml)
Unlabeled data: rosbag2 bags (bag:PATH:RGB_TOPIC:THERMAL_TOPIC), the published layouts with their
labels ignored, a plain rgb/ thermal/ folder (see rgbt_models/rgbt_models/uusod/data.py). The detector and
adapter stages write <output_dir>/samsod.pt, a normal SAMSOD checkpoint for the node.
Examples: rgbt_models/rgbt_models/configs/uusod/*.yaml; torchrun --nproc_per_node=N -m
rgbt_models.cli.adapt ... for several processes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from rgbt_models.cli.pipes import quiet_on_closed_pipe
from rgbt_models.cli.train import add_run_arguments
from rgbt_models.config import ConfigError
from rgbt_models.runtime import threads as thread_policy
from rgbt_models.uusod.config import STAGES, AdaptConfig


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-adapt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", required=True, help="rgbt-adapt YAML (see rgbt_models/rgbt_models/configs/uusod/)")
    add_run_arguments(parser)  # --resume also continues with the stored pseudo-labels
    args = parser.parse_args(argv)
    print(f"rgbt-adapt: {thread_policy.describe(thread_policy.apply(args.threads))}", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from rgbt_models.checkpoint import CheckpointError  # after parsing: --help answers at once
    from rgbt_models.data.datasets import DatasetError

    try:
        config = AdaptConfig.from_yaml(args.config, args.stage)
        if args.output_dir:
            config.output_dir = args.output_dir
        if args.epochs:
            config.train.epochs = args.epochs
        from rgbt_models.uusod.runner import run

        summary = run(config, resume=args.resume, device=args.device, progress=not args.no_progress,
                      max_steps_per_epoch=args.max_steps_per_epoch)
    except (ConfigError, DatasetError, CheckpointError, OSError) as error:
        print(f"rgbt-adapt: {args.config}: {error}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("model", "output_dir", "checksum", "samples")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
