"""rgbt-calibrate BAG --rgb-topic T --thermal-topic T --output FILE: the thermal -> RGB homography
of a camera pair from an unlabeled recording, without a calibration target.

Drive or walk the robot through a scene with structure (objects, edges, temperature differences)
for a few seconds; the pairs are aligned by the orientation of their edges, coarse to fine
(rgbt_models/rgbt_models/calibration/, docs/calibration.md), and FILE gets a --params-file snippet with
`thermal.homography`, to merge into the node's YAML. The score (orientation correlation after
alignment, against before), the consistency between frames (px) and the number of frames used
are printed. Refused (exit 1, one line saying why) when the answer cannot be trusted.
--checkerboard COLSxROWS uses a heated checkerboard's corners instead (a recording of the board
moved through both views). The homography is exact for a planar or distant scene (a common case
for a robot's cameras mounted close together); near objects keep a parallax error of baseline x
focal length / distance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rgbt_models.cli.pipes import quiet_on_closed_pipe


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag")
    parser.add_argument("--rgb-topic", required=True)
    parser.add_argument("--thermal-topic", required=True)
    parser.add_argument("--output", required=True, help="the params YAML snippet to write")
    parser.add_argument("--frames", type=int, default=30, help="pairs used, spread over the bag (default 30)")
    parser.add_argument("--max-spread", type=float, default=3.0,
                        help="largest median disagreement between frames (px) that is accepted (default 3)")
    parser.add_argument("--motion", choices=("affine", "homography"), default="affine",
                        help="per-frame model: affine (cameras side by side, parallel axes: the robust "
                             "default) or homography (axes at an angle; needs much more structure)")
    parser.add_argument("--checkerboard", metavar="COLSxROWS",
                        help="a recording of a heated checkerboard with this many inner corners (e.g. 7x5): "
                             "its corners instead of the scene's edges")
    parser.add_argument("--max-age", type=float, default=0.15,
                        help="pairs: each RGB frame with the newest thermal frame within this (s; default 0.15)")
    args = parser.parse_args(argv)
    from rgbt_models import calibration
    from rgbt_models.data.rosbag import decode_pair, read_pairs
    from rgbt_models.data.sample import DatasetError

    try:
        pairs = [p for p in read_pairs(args.bag, args.rgb_topic, args.thermal_topic, policy="latest",
                                       max_age=args.max_age) if p.thermal is not None]
        if not pairs:
            raise DatasetError(f"{args.bag}: no RGB-thermal pairs on {args.rgb_topic} and {args.thermal_topic}")
        step = max(1, len(pairs) // max(1, args.frames))
        frames = (decode_pair(p) for p in pairs[::step][:args.frames])
        if args.checkerboard:
            result = calibration.calibrate_checkerboard(frames, board_pattern(args.checkerboard))
        else:
            result = calibration.calibrate(frames, args.max_spread, args.motion)
    except calibration.CalibrationRefused as error:
        print(f"rgbt-calibrate: refused: {error}", file=sys.stderr)
        return 1
    except (DatasetError, ValueError) as error:
        print(f"rgbt-calibrate: {error}", file=sys.stderr)
        return 2
    text = calibration.parameters_yaml(result, args.bag)
    Path(args.output).write_text(text)
    print(f"rgbt-calibrate: {calibration.describe(result)}; wrote {args.output}")
    print(text, end="")
    return 0


def board_pattern(text: str) -> tuple[int, int]:
    columns, _, rows = text.lower().partition("x")
    try:
        pattern = (int(columns), int(rows))
    except ValueError:
        raise ValueError(f"--checkerboard {text!r}: expected COLSxROWS, e.g. 7x5") from None
    if min(pattern) < 2:
        raise ValueError(f"--checkerboard {text!r}: at least 2x2 inner corners")
    return pattern


if __name__ == "__main__":
    sys.exit(main())
