"""Soak: the node under 30 Hz 640x512 RGB-T for --minutes with faults injected every minute.

Starts the real node (random weights; --size test by default so that each minute holds enough
frames for stable percentiles, --size tiny for the real encoder) and publishes pairs at --rate.
Every minute, at fixed offsets: a 3 s thermal dropout (-> degraded mode), a burst of 40 malformed
messages on both topics (bad encoding, short data, 32FC1 with an odd step), a stamp jump of
10 s backwards (a looping bag: the synchronizer resets), and 2 s of 4K pairs (3840x2160: the
worker stalls on decoding and resizing while the camera keeps coming). Prints per minute:
pairs sent, received / processed / skipped / bad (node counters), latency p50 / p95 (publish ->
saliency/map), RSS, and where the time goes per minute: the node's own stage medians from
/diagnostics (its last 200 frames: stamp age at pairing, hand-off, decode, pipeline outside the
models, models, publish) and the probe's publishing lag behind its 30 Hz schedule. Drift is
judged by the trend over all minutes, not by two of them: the least-squares slope of the
per-minute p50 and p95 in % of the first minute's fitted value per hour, with its standard error;
it fails when RSS grows by more than 50 MB or a trend exceeds --max-trend %/h by more than two
standard errors. Usage: python benchmarks/soak_node.py [--minutes 10] [--max-trend 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from bench_node import rss_mb
from common import print_table
from node_probe import CameraProbe, node_arguments, stop_text, tear_down

from rgbt_perception.testing.node_fixtures import image_msg
from rgbt_perception.testing.ros_harness import DomainLease, NodeProcess, ros_environment

STAGES = {"stamp age": "stamp age at pairing median (ms)", "hand-off": "hand-off to worker median (ms)",
          "decode": "decode median (ms)", "outside models": "pipeline outside models median (ms)",
          "models": "model median (ms)", "publish": "publish median (ms)"}


def trend(values: list[float]) -> tuple[float, float]:
    """(slope, standard error) of a least-squares line through per-minute values, in % of the
    line's value at the first minute per hour."""
    y = np.asarray(values, float)
    x = np.arange(len(y), dtype=float)
    if len(y) < 3 or not np.isfinite(y).all():
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    error = np.sqrt((residual @ residual) / (len(y) - 2) / ((x - x.mean()) @ (x - x.mean())))
    scale = 100 * 60 / intercept
    return float(slope * scale), float(error * scale)


def bad_messages(count: int) -> list[tuple[int, object]]:
    """(stream, message) pairs of malformed images of several kinds."""
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            msg = image_msg(np.zeros((8, 8, 3), np.uint8), "yuv422", 0, 0)
        elif kind == 1:
            msg = image_msg(np.zeros((64, 64), np.uint16), "mono16", 0, 0)
            msg.data = msg.data[:100]
        else:
            msg = image_msg(np.zeros((64, 64), np.float32), "32FC1", 0, 0)
            msg.step, msg.data = 257, np.zeros(257 * 64 + 1, np.uint8).tobytes()
        out.append((i % 2, msg))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--size", default="test", help="model size (test: micro backbone; tiny)")
    parser.add_argument("--max-trend", type=float, default=20.0,
                        help="largest latency trend accepted, %% per hour (beyond two standard errors)")
    args = parser.parse_args()
    lease = DomainLease()
    os.environ.update(ros_environment(lease.domain_id))
    import rclpy

    from rgbt_models.data.synthetic import make_scene

    node = NodeProcess("rgbt_perception.node", ros_args=node_arguments(
        args.size, "-p", "diagnostics_period:=1.0", "-p", "thermal.timeout:=1.0"))
    rclpy.init(domain_id=lease.domain_id)
    probe = CameraProbe("soak_probe")
    executor, latencies = probe.executor, probe.latencies
    scenes = [make_scene(i, 512, 640) for i in range(8)]
    frames = [(image_msg(s.rgb, "rgb8", 0, 0), image_msg(s.thermal_raw, "mono16", 0, 0)) for s in scenes]
    big = make_scene(99, 2160, 3840)
    big_frame = (image_msg(big.rgb, "rgb8", 0, 0), image_msg(big.thermal_raw, "mono16", 0, 0))
    malformed = bad_messages(40)
    minutes: list[dict] = []
    stopped = "not stopped"
    try:
        node.wait_for_log("rgbt_perception ready", timeout=300)
        deadline = time.monotonic() + 60
        while probe.rgb_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        start = time.monotonic()
        stamp_base = time.time_ns()
        count, minute_start, minute_sent, degraded_seen, jumped_in, burst_in = 0, start, 0, False, -1, -1
        counters_before: dict[str, int] = {}
        lags: list[float] = []
        while len(minutes) < args.minutes and time.monotonic() - start < args.minutes * 60 + 30:
            now = time.monotonic()
            second = (now - start) % 60
            stamp = stamp_base + int((now - start) * 1e9)
            minute = int((now - start) // 60)
            if second >= 30 and jumped_in != minute:
                stamp_base -= 10 * 10**9  # a looping bag: stamps jump 10 s back
                jumped_in = minute
            lags.append(now - (start + count / args.rate))  # how late the probe publishes this pair
            rgb, thermal = big_frame if 45 <= second < 47 else frames[count % len(frames)]
            probe.publish_pair(rgb, thermal, stamp, with_thermal=not 10 <= second < 13)  # thermal dropout
            if second >= 20 and burst_in != minute:
                burst_in = minute
                for stream, msg in malformed:
                    (probe.rgb_pub if stream == 0 else probe.thermal_pub).publish(msg)
            status = probe.status()
            degraded_seen |= status.get("message", "").startswith("DEGRADED")
            count += 1
            minute_sent += 1
            target = start + count / args.rate
            executor.spin_once(timeout_sec=0.0)
            while time.monotonic() < target:
                executor.spin_once(timeout_sec=max(0.0, target - time.monotonic()))
            if time.monotonic() - minute_start >= 60:
                values = {k: int(status.get(k, 0)) for k in ("pairs", "processed", "skipped", "bad", "rgb")}
                lat = np.array([v for t, v in latencies if t >= minute_start and np.isfinite(v)])
                minutes.append({"sent": minute_sent, **{k: values[k] - counters_before.get(k, 0) for k in values},
                                "p50": float(np.median(lat)) if lat.size else float("nan"),
                                "p95": float(np.percentile(lat, 95)) if lat.size else float("nan"),
                                "rss": rss_mb(node.process.pid), "degraded": degraded_seen,
                                "stages": {name: float(status.get(key, "nan")) for name, key in STAGES.items()},
                                "lag": 1000 * float(np.median(lags)) if lags else float("nan")})
                lags.clear()
                counters_before = dict(values)
                minute_start, minute_sent, degraded_seen = time.monotonic(), 0, False
                probe.sent = {k: v for k, v in probe.sent.items() if v > time.monotonic() - 30}
        stopped = stop_text(node, timeout=30)
    finally:
        tear_down(node, probe, lease)
    print(f"soak: {args.size} SARTM + SAMSOD, 640x512 pairs at {args.rate:.0f} Hz for {args.minutes:g} min, "
          f"faults every minute (thermal dropout, 40 bad messages, stamp jump, 2 s of 4K pairs)")
    print_table(["minute", "sent", "received pairs", "processed", "skipped", "bad", "p50 (ms)", "p95 (ms)",
                 "RSS (MB)", "degraded seen"],
                [[i + 1, m["sent"], m["pairs"], m["processed"], m["skipped"], m["bad"], f"{1000 * m['p50']:.0f}",
                  f"{1000 * m['p95']:.0f}", f"{m['rss']:.0f}", m["degraded"]] for i, m in enumerate(minutes)])
    print("\nwhere the time goes, per minute (the node's stage medians over its last 200 frames, ms; the "
          "probe's publishing lag behind its schedule, ms)")
    print_table(["minute", *STAGES, "probe lag"],
                [[i + 1, *(f"{m['stages'][name]:.1f}" for name in STAGES), f"{m['lag']:.1f}"]
                 for i, m in enumerate(minutes)])
    print(f"SIGINT to exit: {stopped}")
    if len(minutes) < 3:
        print("soak: too short for a trend (3 minutes at least)")
        return 1
    growth = minutes[-1]["rss"] - minutes[0]["rss"]
    trends = {name: trend([m[name] for m in minutes]) for name in ("p50", "p95")}
    stage_trends = {name: trend([m["stages"][name] for m in minutes]) for name in STAGES}
    print("trends, % of the first minute per hour (+- standard error): "
          + ", ".join(f"{name} {slope:+.0f} +- {error:.0f}" for name, (slope, error) in
                      {**trends, **stage_trends}.items()))
    missed = [f"RSS growth {growth:.0f} MB > 50"] if growth > 50 else []
    missed += [f"{name} trend {slope:+.0f} +- {error:.0f} %/h beyond {args.max_trend:g}"
               for name, (slope, error) in trends.items() if slope - 2 * error > args.max_trend]
    print(f"soak: RSS growth {growth:+.0f} MB, latency trends p50 {trends['p50'][0]:+.0f} %/h, p95 "
          f"{trends['p95'][0]:+.0f} %/h: " + (f"MISSED {'; '.join(missed)}" if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
