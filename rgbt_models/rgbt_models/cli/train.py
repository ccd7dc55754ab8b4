"""rgbt-train samsod|sartm --config FILE: train a model (torchrun for several processes/GPUs)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from rgbt_models.cli.pipes import quiet_on_closed_pipe
from rgbt_models.config import ConfigError
from rgbt_models.runtime import threads as thread_policy
from rgbt_models.runtime.devices import DEVICES
from rgbt_models.training.config import TASKS, TrainConfig

# torch and the model code load after the arguments are parsed: --help answers at once.


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every training command shares (rgbt-train, rgbt-adapt)."""
    parser.add_argument("--output-dir", help="overrides output_dir of the config")
    parser.add_argument("--resume", action="store_true", help="continue from <output_dir>/last.pt")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--epochs", type=int, help="overrides train.epochs")
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap steps per epoch (smoke runs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    parser.add_argument("--threads", default="auto", type=thread_policy.argument, help=thread_policy.THREADS_HELP)


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-train", description=__doc__)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--config", required=True, help="training YAML (see rgbt_models/rgbt_models/configs/train/)")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    print(f"rgbt-train: {thread_policy.describe(thread_policy.apply(args.threads))}", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = TrainConfig.from_yaml(args.config, args.task)
    except ConfigError as error:
        print(f"rgbt-train: {error}", file=sys.stderr)
        return 2
    if args.output_dir:
        config.output_dir = args.output_dir
    if args.epochs:
        config.train.epochs = args.epochs
    from rgbt_models.checkpoint import CheckpointError
    from rgbt_models.data.datasets import DatasetError
    from rgbt_models.text.encoders import TextEncoderError
    from rgbt_models.training.trainer import train

    try:
        summary = train(config, resume=args.resume, device=args.device, max_steps_per_epoch=args.max_steps_per_epoch,
                        progress=not args.no_progress)
    except (ConfigError, DatasetError, CheckpointError, TextEncoderError, OSError) as error:
        print(f"rgbt-train: {args.config}: {error}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("best_score", "output_dir", "checksum")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
