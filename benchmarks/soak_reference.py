"""The soak's machine reference: the node's models, timed in a fresh process.

`make soak-long` starts this every few minutes while the aged node runs. It builds the pipeline
the soak's node runs (same model configs, 640x512 model input, the node's thread policy, random
weights), runs a few synthetic 640x512 pairs through it and prints one JSON line with the median
of SARTM + SAMSOD time per pair, measured as the node measures its "model median". It never ages,
so the node's model time divided by it is the node's own drift with the machine's speed taken out:
on a shared machine the host's load moves both; a node that slows with age moves only the first.
Usage: python benchmarks/soak_reference.py [--size test] [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from node_probe import node_overrides

from rgbt_models.data.synthetic import make_scene
from rgbt_perception.model_loading import build_pipeline
from rgbt_perception.parameters import load_parameter_file
from rgbt_perception.pipeline import model_seconds
from rgbt_perception.testing.ros_harness import REPO_ROOT


def models_ms(size: str, pairs: int, warm_up: int = 4) -> float:
    """Median SARTM + SAMSOD time (ms) per pair over `pairs` pairs after `warm_up` untimed ones."""
    params = load_parameter_file(REPO_ROOT / "config" / "rgbt.yaml", node_overrides(size))
    pipeline = build_pipeline(params, log=lambda text: None)
    scenes = [make_scene(i, 512, 640) for i in range(2)]
    times = []
    for i in range(warm_up + pairs):
        scene = scenes[i % len(scenes)]
        timings = pipeline.run(scene.rgb, scene.thermal_raw, thermal_stamp=float(i)).timings
        if i >= warm_up:
            times.append(model_seconds(timings))
    return 1000 * float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="test", help="model size, as the soak's --size")
    parser.add_argument("--pairs", type=int, default=5,
                        help="timed pairs (after 4 untimed ones: the first pairs of a process are slower)")
    args = parser.parse_args()
    print(json.dumps({"models_ms": models_ms(args.size, args.pairs)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
