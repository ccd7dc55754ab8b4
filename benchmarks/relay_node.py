"""The transport floor of the node benchmark: a node that does nothing but what every camera
node in Python must do -- take the RGB and thermal images off DDS (sensor QoS), pair them by
stamp, and publish a 640x512 mono8 saliency/map with the RGB header from the callback. Its
latency, measured by the same probe as the real node's, is what rclpy and Fast DDS cost on this
machine before any work of ours. Run as `python benchmarks/relay_node.py --ros-args ...`."""

from __future__ import annotations

import sys

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from rgbt_perception.outputs import array_to_image
from rgbt_perception.ros_compat import run_single_threaded


class Relay(Node):
    def __init__(self) -> None:
        super().__init__("relay")
        self.pending: dict[str, dict[tuple[int, int], Image]] = {"rgb": {}, "thermal": {}}
        self.pub = self.create_publisher(Image, "saliency/map", 5)
        for stream in self.pending:
            self.create_subscription(Image, f"{stream}/image", lambda msg, s=stream: self.on_image(s, msg),
                                     qos_profile_sensor_data)
        self.get_logger().info("rgbt_perception ready (relay)")

    def on_image(self, stream: str, msg: Image) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        other = "thermal" if stream == "rgb" else "rgb"
        if key not in self.pending[other]:
            self.pending[stream] = {key: msg}
            return
        rgb = msg if stream == "rgb" else self.pending[other].pop(key)
        self.pub.publish(array_to_image(np.zeros((rgb.height, rgb.width), np.uint8), "mono8", rgb.header))


def main() -> int:
    rclpy.init(args=sys.argv)
    node = Relay()
    return run_single_threaded(node)


if __name__ == "__main__":
    sys.exit(main())
