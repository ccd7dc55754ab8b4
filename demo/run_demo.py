"""make demo: write the synthetic RGB-T drive bag, replay it through the perception stack with
the demo checkpoints, print the report (metrics with and without thermal, latency) and say
where the overlays are."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo_out"


def main() -> int:
    from rgbt_models.data.drive import DriveConfig, write_drive_bag
    from rgbt_perception.replay import main as replay

    for name in ("samsod_demo.pt", "sartm_demo.pt"):
        if not (ROOT / "demo" / "checkpoints" / name).is_file():
            print(f"demo: demo/checkpoints/{name} is missing; make demo-train reproduces it", file=sys.stderr)
            return 2
    config = DriveConfig()
    bag = OUT / "drive_bag"
    stamp = OUT / "drive_bag.json"
    wanted = json.dumps(config.__dict__, default=str)
    start = time.perf_counter()
    if not (bag.exists() and stamp.is_file() and stamp.read_text() == wanted):
        import shutil

        shutil.rmtree(bag, ignore_errors=True)
        OUT.mkdir(exist_ok=True)
        info = write_drive_bag(bag, config, "mcap")
        stamp.write_text(wanted)
        low, high = info["dropout"]
        print(f"demo: wrote {bag} ({info['rgb']} RGB frames at {info['fps']:.0f} Hz, {info['size'][1]}x"
              f"{info['size'][0]}, day then night, thermal dropout {low:.0f}-{high:.0f} s)")
    if (OUT / "outputs").exists():
        __import__("shutil").rmtree(OUT / "outputs")
    common = [str(bag), "--config", str(ROOT / "demo" / "rgbt_demo.yaml"),
              "--rgb-topic", config.rgb_topic, "--thermal-topic", config.thermal_topic,
              "--label-topic", config.label_topic, "--label-classes", "synthetic", "--mask-topic", config.mask_topic]
    code = replay([*common, "--compare-without-thermal", "--output", str(OUT / "replay"),
                   "--record", str(OUT / "outputs.mcap")])
    if code == 0:
        print("\ndemo: the same replay with the CPU int8 path (precision: int8)")
        code = replay([*common, "-p", "precision:=int8", "--output", str(OUT / "replay_int8"), "--no-video",
                       "--overlay-every", "0"])
    if code == 0:
        print(int8_report(OUT / "replay" / "summary.json", OUT / "replay_int8" / "summary.json"))
        print(f"demo: overlays in {OUT / 'replay' / 'overlays'} (RGB | thermal | SARTM classes | SAMSOD saliency), "
              f"video {OUT / 'replay' / 'replay.mp4'}, outputs bag {OUT / 'outputs'}; "
              f"done in {time.perf_counter() - start:.0f} s. Next: make demo-adapt adapts the saliency model to "
              "an unlabeled bag from a black-hot thermal camera (UUSOD)")
    return code


def int8_report(fp32_path: Path, int8_path: Path) -> str:
    """fp32 against int8 on the same frames: accuracy difference and model time."""
    fp32, int8 = (json.loads(p.read_text()) for p in (fp32_path, int8_path))
    rows = []
    for label, section, key, scale in (("saliency S", "saliency", "S", 1), ("saliency MAE", "saliency", "MAE", 1),
                                       ("SARTM mIoU (points)", "semantic", "mIoU", 100)):
        a, b = (s[section]["with thermal"][key] * scale for s in (fp32, int8))
        rows.append(f"| {label} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    for stage in ("sartm", "samsod"):
        a, b = (s["latency_ms"][stage]["median"] for s in (fp32, int8))
        rows.append(f"| {stage} model time, median (ms) | {a:.1f} | {b:.1f} | speed-up x{a / b:.2f} |")
    return "\n".join(["", "## fp32 against int8 (demo checkpoints, frames with thermal)", "",
                      "| measure | fp32 | int8 | difference |", "| --- | --- | --- | --- |", *rows])


if __name__ == "__main__":
    sys.exit(main())
