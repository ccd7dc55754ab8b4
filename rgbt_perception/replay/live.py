"""rgbt-replay --live: play a bag in (scaled) real time into a running node over rclpy.

Publishes the bag's RGB and thermal messages as they were recorded (raw CDR bytes, no
re-encoding) and /clock with the bag time, so that a node started with use_sim_time:=true
runs on the bag's clock. Records the node's outputs and reports end-to-end latency
(publication of the RGB frame -> output received) and the share of pairs the node answered.
Remap the node's inputs to the bag's topics (-r rgb/image:=/camera/rgb/image ...); a node in a
namespace (`ros2 launch ... namespace:=robot1`) is answered with --namespace robot1, where its
outputs are published.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rgbt_models.data.bag_reader import open_bag
from rgbt_models.data.pairing import make_pairing
from rgbt_models.data.rosbag import COMPRESSED_TYPE
from rgbt_perception.replay.report import render_live_markdown, write_summary


def replay_live(args, params: dict, ready_timeout: float = 60.0) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CompressedImage, Image

    with open_bag(args.bag) as bag:
        bag_types = bag.topics
    rclpy.init()
    node = Node("rgbt_replay", namespace=args.namespace or "")  # the node's relative outputs resolve here
    qos = (QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE) if params["qos.reliability"] == "reliable"
           else qos_profile_sensor_data)
    # Each camera topic is played with the bag's own type (a compressed one goes to a node whose
    # <stream>.transport is compressed, subscribed to <topic>/compressed: remap accordingly).
    pubs = {topic: node.create_publisher(CompressedImage if bag_types.get(topic) == COMPRESSED_TYPE else Image,
                                         topic, qos) for topic in (args.rgb_topic, args.thermal_topic)}
    clock = node.create_publisher(Clock, "/clock", 10)
    sent_wall: dict[tuple[int, int], float] = {}
    answered: dict[tuple[int, int], float] = {}

    def on_output(msg):
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key in sent_wall and key not in answered:
            answered[key] = time.monotonic() - sent_wall[key]

    output_topic = "saliency/map" if params["samsod.enabled"] else "semantic/mask"
    node.create_subscription(Image, output_topic, on_output, 10)
    diagnostics: list = []
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    deadline = time.monotonic() + ready_timeout
    while any(p.get_subscription_count() == 0 for p in pubs.values()):
        if time.monotonic() > deadline:
            raise ValueError(f"no node subscribes to {sorted(pubs)} (remap its rgb/image and thermal/image)")
        rclpy.spin_once(node, timeout_sec=0.05)

    pairs: list[tuple[int, int]] = []
    sync = make_pairing(params["sync.policy"], lambda a, b: pairs.append(a), params["sync.queue_size"],
                        params["sync.slop"], params["sync.max_age"], stamp_of=lambda key: key[0] + key[1] * 1e-9)
    published = 0
    with open_bag(args.bag) as bag:
        start_wall, start_bag = None, None
        for topic, bag_ns, raw in bag.messages(list(pubs)):
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), bag_ns
            target = start_wall + (bag_ns - start_bag) / 1e9 / args.rate
            while (remaining := target - time.monotonic()) > 0:
                rclpy.spin_once(node, timeout_sec=min(remaining, 0.01))
            msg = bag.deserialize(raw, bag_types[topic])
            key = (int(msg.header.stamp.sec), int(msg.header.stamp.nanosec))
            stamp = Clock()
            stamp.clock.sec, stamp.clock.nanosec = bag_ns // 1_000_000_000, bag_ns % 1_000_000_000
            clock.publish(stamp)
            pubs[topic].publish(bytes(raw))
            published += 1
            if topic == args.rgb_topic:
                sent_wall[key] = time.monotonic()
                sync.add(0, key)
            else:
                sync.add(1, key)
            if args.max_frames and len(pairs) >= args.max_frames:
                break
    settle = time.monotonic() + 3.0 + 2.0 / args.rate
    while time.monotonic() < settle:
        rclpy.spin_once(node, timeout_sec=0.05)
    status = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    clock_stamp = diagnostics[-1].header.stamp.sec if diagnostics else None
    node.destroy_node()
    rclpy.try_shutdown()

    latencies = np.array(sorted(answered.values())) if answered else np.array([np.nan])
    pair_keys = set(pairs)
    answered_pairs = len(pair_keys & set(answered))
    skipped = int(status.get("skipped", 0))
    summary = {"mode": "live", "rate": args.rate, "messages_published": published, "pairs_published": len(pairs),
               "pairs_answered": answered_pairs, "outputs_received": len(answered), "node_skipped": skipped,
               "answered_share": answered_pairs / max(1, len(pairs)),
               "latency_ms": {"median": 1000 * float(np.median(latencies)),
                              "p95": 1000 * float(np.percentile(latencies, 95))},
               "node_diagnostics": status, "node_clock_sec": clock_stamp, "bag": str(args.bag),
               "output_topic": output_topic}
    markdown = render_live_markdown(summary)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_summary(out, summary, markdown, prefix="live_")
    return summary | {"markdown": markdown}
