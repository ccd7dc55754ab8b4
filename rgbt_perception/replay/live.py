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
from rgbt_models.data.rosbag import COMPRESSED_TYPE, check_topics
from rgbt_perception.replay.report import render_live_markdown, write_summary


class LivePlayer:
    """The replay's rclpy node: publishers with the bag's own types (a compressed topic goes to a
    node whose <stream>.transport is compressed, subscribed to <topic>/compressed: remap
    accordingly), /clock, and the node's outputs and /diagnostics received."""

    def __init__(self, args, params: dict, bag_types: dict[str, str]) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import CompressedImage, Image

        self.args, self.bag_types = args, bag_types
        self.node = Node("rgbt_replay", namespace=args.namespace or "")  # the node's relative outputs resolve here
        qos = (QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE) if params["qos.reliability"] == "reliable"
               else qos_profile_sensor_data)
        self.pubs = {topic: self.node.create_publisher(
            CompressedImage if bag_types.get(topic) == COMPRESSED_TYPE else Image, topic, qos)
            for topic in (args.rgb_topic, args.thermal_topic)}
        self.clock = self.node.create_publisher(Clock, "/clock", 10)
        self.sent_wall: dict[tuple[int, int], float] = {}
        self.answered: dict[tuple[int, int], float] = {}
        # the node answers a pair on saliency/map (SAMSOD) and / or semantic/mask (SARTM): the first counts
        self.output_topic = "saliency/map or semantic/mask"
        for topic in ("saliency/map", "semantic/mask"):
            self.node.create_subscription(Image, topic, self.on_output, 10)
        self.diagnostics: list = []
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        self.pairs: list[tuple[int, int]] = []
        self.sync = make_pairing(params["sync.policy"], lambda a, b: self.pairs.append(a), params["sync.queue_size"],
                                 params["sync.slop"], params["sync.max_age"],
                                 stamp_of=lambda key: key[0] + key[1] * 1e-9)
        self.published = 0
        self.last_bag_sec: int | None = None  # the last /clock published (bag time)

    def on_output(self, msg) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key in self.sent_wall and key not in self.answered:
            self.answered[key] = time.monotonic() - self.sent_wall[key]

    def spin_until(self, deadline: float, step: float = 0.05, done=lambda: False) -> None:
        """Spin until `deadline` (monotonic s), or until `done()` is true."""
        import rclpy

        while (remaining := deadline - time.monotonic()) > 0 and not done():
            rclpy.spin_once(self.node, timeout_sec=min(remaining, step))

    def all_answered(self) -> bool:
        """Every pair published so far has its output back."""
        return bool(self.pairs) and all(pair in self.answered for pair in self.pairs)

    def wait_for_subscribers(self, timeout: float) -> None:
        import rclpy

        deadline = time.monotonic() + timeout
        if any(p.get_subscription_count() == 0 for p in self.pubs.values()):
            print(f"rgbt-replay: waiting up to {timeout:.0f} s for a node subscribed to {' and '.join(self.pubs)}",
                  flush=True)
        while any(p.get_subscription_count() == 0 for p in self.pubs.values()):
            if time.monotonic() > deadline:
                raise ValueError(f"no node subscribes to {' and '.join(self.pubs)} within {timeout:.0f} s: start the "
                                 "node first, its rgb/image and thermal/image remapped to them (or name the bag's "
                                 "own topics with --rgb-topic and --thermal-topic)")
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def play(self, bag) -> None:
        """The bag's camera messages at their recorded pace (scaled by --rate), /clock before each."""
        start_wall, start_bag = None, None
        for topic, bag_ns, raw in bag.messages(list(self.pubs)):
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), bag_ns
            self.spin_until(start_wall + (bag_ns - start_bag) / 1e9 / self.args.rate, step=0.01)
            self.publish(topic, bag_ns, raw, bag.deserialize(raw, self.bag_types[topic]).header.stamp)
            if self.args.max_frames and len(self.pairs) >= self.args.max_frames:
                break

    def publish(self, topic: str, bag_ns: int, raw, stamp) -> None:
        from rosgraph_msgs.msg import Clock

        key = (int(stamp.sec), int(stamp.nanosec))
        clock = Clock()
        clock.clock.sec, clock.clock.nanosec = bag_ns // 1_000_000_000, bag_ns % 1_000_000_000
        self.clock.publish(clock)
        self.last_bag_sec = bag_ns // 1_000_000_000
        self.pubs[topic].publish(bytes(raw))
        self.published += 1
        if topic == self.args.rgb_topic:
            self.sent_wall[key] = time.monotonic()
        self.sync.add(0 if topic == self.args.rgb_topic else 1, key)

    def summary(self) -> dict:
        """What was published and answered, the latencies and the node's last /diagnostics."""
        status = {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values} if self.diagnostics else {}
        latencies = np.array(sorted(self.answered.values())) if self.answered else np.array([np.nan])
        answered_pairs = len(set(self.pairs) & set(self.answered))
        return {"mode": "live", "rate": self.args.rate, "messages_published": self.published,
                "pairs_published": len(self.pairs), "pairs_answered": answered_pairs,
                "outputs_received": len(self.answered), "node_skipped": int(status.get("skipped", 0)),
                "answered_share": answered_pairs / max(1, len(self.pairs)),
                "latency_ms": {"median": 1000 * float(np.median(latencies)),
                               "p95": 1000 * float(np.percentile(latencies, 95))},
                "node_diagnostics": status,
                "node_clock_sec": self.diagnostics[-1].header.stamp.sec if self.diagnostics else None,
                "bag_clock_sec": self.last_bag_sec,
                "bag": str(self.args.bag), "output_topic": self.output_topic}


class ReplayInterrupted(Exception):
    """SIGINT / SIGTERM before the replay played anything: nothing to report."""


def replay_live(args, params: dict, ready_timeout: float = 60.0) -> dict:
    """Play --bag into the running node; its report (live_summary.json, live_report.md) in --output."""
    import rclpy

    with open_bag(args.bag) as bag:
        bag_types = bag.topics
    check_topics(args.bag, bag_types, (args.rgb_topic, args.thermal_topic), ())
    from rclpy.executors import ExternalShutdownException

    rclpy.init()
    player = LivePlayer(args, params, bag_types)
    interrupted = False
    try:
        try:
            player.wait_for_subscribers(ready_timeout)
            with open_bag(args.bag) as bag:
                player.play(bag)
            # the last outputs, and a /diagnostics after them: up to 3 s, less once every pair is answered
            player.spin_until(time.monotonic() + 3.0 + 2.0 / args.rate, done=player.all_answered)
            player.spin_until(time.monotonic() + 0.5)
        except (KeyboardInterrupt, ExternalShutdownException):  # Ctrl-C, or SIGTERM (timeout, systemd)
            interrupted = True
        summary = player.summary() | {"interrupted": interrupted}
    finally:
        player.node.destroy_node()
        rclpy.try_shutdown()
    if interrupted and not summary["pairs_published"]:
        raise ReplayInterrupted("stopped by a signal before any pair was played")
    markdown = render_live_markdown(summary)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_summary(out, summary, markdown, prefix="live_")
    return summary | {"markdown": markdown}
