"""A synthetic RGB-T drive written as a rosbag2 bag: the demo's and the replay tests' data.

The camera pans across a sequence of synthetic scenes (data.synthetic): a day segment, then a
night segment, with warm pedestrians and vehicles; optionally the thermal camera drops out
for a few seconds in the middle; it may run at its own rate, freeze on its shutter, or see the
scene through a homography (an unregistered camera pair). Ground truth rides along on its own topics (semantic labels
and saliency masks, mono8, stamped like the RGB frames).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rgbt_models.data.rosbag import BagWriter
from rgbt_models.data.synthetic import make_scene


@dataclass
class DriveConfig:
    seconds: float = 20.0
    fps: float = 10.0
    height: int = 256
    width: int = 320
    frames_per_scene: int = 10  # a new scene every second at 10 fps
    pan_pixels_per_frame: int = 4
    dropout: tuple[float, float] | None = (9.0, 12.0)  # thermal missing in [start, end) seconds
    thermal_delay_ms: float = 3.0  # the thermal camera triggers a little later than the RGB one
    seed: int = 7
    rgb_topic: str = "/camera/rgb/image"
    thermal_topic: str = "/camera/thermal/image"
    label_topic: str = "/ground_truth/semantic"
    mask_topic: str = "/ground_truth/saliency"
    compressed: str | None = None  # "png" | "jpeg": cameras as sensor_msgs/CompressedImage (thermal: png)
    thermal_fps: float | None = None  # None: the RGB rate; e.g. 9 beside 30 Hz RGB (a Lepton / Boson export model)
    freeze: tuple[float, float] | None = None  # a shutter (FFC) freeze: thermal repeats one image in [start, end) s
    thermal_warp: tuple[float, ...] | None = None  # 3x3 row-major thermal->RGB homography: thermal not registered


def drive_frames(config: DriveConfig):
    """(index, seconds, night, scene) for every frame; the first half is day, the second night."""
    count = round(config.seconds * config.fps)
    scenes: dict[int, object] = {}
    for index in range(count):
        block = index // config.frames_per_scene
        night = index >= count // 2
        if block not in scenes:
            scenes = {block: make_scene(config.seed * 10_000 + block, config.height, config.width, night=night,
                                        max_objects=5)}
        scene = scenes[block]
        shift = (index % config.frames_per_scene) * config.pan_pixels_per_frame
        yield index, index / config.fps, night, shift, scene


def write_drive_bag(path: str | Path, config: DriveConfig | None = None, storage: str = "mcap") -> dict:
    """Write the drive; returns counts and the dropout interval for reports and tests."""
    config = config or DriveConfig()
    counts = {"rgb": 0, "thermal": 0, "frames_night": 0, "thermal_frozen": 0}
    start_ns = 1_700_000_000 * 10**9
    frozen = None
    with BagWriter(path, storage) as writer:
        for _, seconds, night, shift, scene in drive_frames(config):
            stamp = start_ns + round(seconds * 1e9)

            def pan(image, shift=shift):
                return np.roll(image, -shift, axis=1)

            writer.write_image(config.rgb_topic, pan(scene.rgb), "rgb8", stamp, "camera_rgb_optical",
                               compressed=config.compressed)
            writer.write_image(config.label_topic, pan(scene.label), "mono8", stamp, "camera_rgb_optical")
            writer.write_image(config.mask_topic, pan(scene.saliency), "mono8", stamp, "camera_rgb_optical")
            counts["rgb"] += 1
            counts["frames_night"] += int(night)
            for thermal_seconds in thermal_times(config, seconds):
                in_dropout = config.dropout is not None and config.dropout[0] <= thermal_seconds < config.dropout[1]
                if in_dropout:
                    continue
                image = thermal_image(config, pan(scene.thermal_raw))
                if config.freeze is not None and config.freeze[0] <= thermal_seconds < config.freeze[1]:
                    frozen = image if frozen is None else frozen  # the shutter: the last image again
                    image = frozen
                    counts["thermal_frozen"] += 1
                else:
                    frozen = image
                thermal_stamp = start_ns + round(thermal_seconds * 1e9) + int(config.thermal_delay_ms * 1e6)
                writer.write_image(config.thermal_topic, image, "mono16", thermal_stamp,
                                   "camera_thermal_optical", bag_time_ns=thermal_stamp,
                                   compressed=config.compressed and "png")  # 16 bits need png
                counts["thermal"] += 1
    return {**counts, "dropout": config.dropout, "fps": config.fps, "size": [config.height, config.width]}


def thermal_times(config: DriveConfig, seconds: float) -> list[float]:
    """The thermal camera's frame times (s) within the RGB frame starting at `seconds`."""
    if config.thermal_fps is None:
        return [seconds]
    period = 1.0 / config.thermal_fps
    first = int(np.ceil(seconds / period - 1e-9))
    return [k * period for k in range(first, int(np.ceil((seconds + 1.0 / config.fps) / period - 1e-9)))]


def thermal_image(config: DriveConfig, registered: np.ndarray) -> np.ndarray:
    """The thermal camera's image: the registered one, or seen through `thermal_warp` (so that
    the homography thermal -> RGB, applied by the node, registers it again)."""
    if config.thermal_warp is None:
        return registered
    import cv2

    homography = np.array(config.thermal_warp, np.float64).reshape(3, 3)
    return cv2.warpPerspective(registered, np.linalg.inv(homography), (registered.shape[1], registered.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# A thermal camera mounted a little off the RGB one (thermal pixel -> RGB pixel): 3 % larger,
# shifted 4 px left and 3 px down; what `--misregistered` records, for rgbt-calibrate to find.
SETTINGS_FILE = "drive_settings.json"  # beside the bag's files: what made it, so a second run can keep it
MISREGISTRATION = (1.03, 0.0, -4.0, 0.0, 1.03, 3.0, 0.0, 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    """python -m rgbt_models.data.drive OUTPUT: a short synthetic recording to try the tools on
    without a robot (a new scene every frame, ground truth on its own topics)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rgbt_models.data.drive", description=main.__doc__)
    parser.add_argument("output", help="the bag folder to write (if it exists: kept when it holds this drive, "
                                       "else refused)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--thermal-fps", type=float, default=None,
                        help="the thermal camera's own rate (default: --fps), e.g. 9 beside a 30 Hz RGB camera")
    parser.add_argument("--size", default="256x320", help="HEIGHTxWIDTH of both cameras")
    parser.add_argument("--rgb-topic", default=DriveConfig.rgb_topic)
    parser.add_argument("--thermal-topic", default=DriveConfig.thermal_topic)
    parser.add_argument("--misregistered", action="store_true",
                        help="the thermal camera off the RGB one by a known homography (for rgbt-calibrate)")
    parser.add_argument("--seed", type=int, default=DriveConfig.seed)
    args = parser.parse_args(argv)
    height, width = (int(side) for side in args.size.lower().split("x"))
    config = DriveConfig(seconds=args.seconds, fps=args.fps, height=height, width=width, frames_per_scene=1,
                         dropout=None, seed=args.seed, thermal_fps=args.thermal_fps, rgb_topic=args.rgb_topic,
                         thermal_topic=args.thermal_topic,
                         thermal_warp=MISREGISTRATION if args.misregistered else None)
    output, settings = Path(args.output), json.loads(json.dumps(dataclasses.asdict(config)))
    if output.exists():
        written = output / SETTINGS_FILE
        if written.is_file() and json.loads(written.read_text()) == settings:
            print(f"{args.output} already holds this drive ({SETTINGS_FILE} matches): kept")
            return 0  # a reader following a second guide in the same folder
        parser.error(f"{args.output} exists and is not this drive; remove it or name another folder")
    info = write_drive_bag(output, config)
    (output / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
    frames = (f"{info['rgb']} RGB-thermal pairs" if info["rgb"] == info["thermal"]
              else f"{info['rgb']} RGB and {info['thermal']} thermal frames")
    print(f"wrote {args.output}: {frames} of {height}x{width} (HEIGHTxWIDTH), topics "
          f"{config.rgb_topic} and {config.thermal_topic}, ground truth on {config.label_topic} and "
          f"{config.mask_topic}; thermal mono16 in centikelvin, as a FLIR TLinear camera (thermal_camera:=flir_tlinear)"
          + ("; thermal misregistered by a known homography" if args.misregistered else ""))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
