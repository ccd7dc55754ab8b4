"""A test-only publisher node: waits for a subscriber, then publishes a fixed set of messages.

Modes:
  custom  one message of each rgbt_msgs type, with known field values, every 100 ms
  images  N sensor_msgs/Image frames of WxH rgb8 at RATE Hz with sensor-data QoS
Exits 0 on SIGINT/SIGTERM (what NodeProcess.stop() checks) and when done (images mode).
"""

from __future__ import annotations

import argparse
import sys

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from rgbt_perception.ros_compat import run_single_threaded


def custom_messages(stamp):
    from sensor_msgs.msg import RegionOfInterest

    from rgbt_msgs.msg import ClassInfo, ClassMap, SalientObject, SalientObjects, SemanticClasses

    semantic = SemanticClasses(class_ids=[0, 2], class_names=["unlabeled", "person"],
                               pixel_fractions=[0.75, 0.25], mean_confidences=[0.9, 0.6])
    class_map = ClassMap(class_set="test", ignore_id=255, classes=[
        ClassInfo(id=0, name="unlabeled", r=0, g=0, b=0),
        ClassInfo(id=2, name="person", r=220, g=20, b=60)])
    salient = SalientObjects(height=480, width=640, objects=[SalientObject(
        bbox=RegionOfInterest(x_offset=10, y_offset=20, width=30, height=40), area=1000,
        mean_saliency=0.8, centroid_x=25.0, centroid_y=40.0)])
    for message in (semantic, class_map, salient):
        message.header.stamp = stamp
        message.header.frame_id = "camera"
    return {"semantic/classes": semantic, "semantic/class_map": class_map,
            "saliency/objects": salient}


class Talker(Node):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("talker")
        self.args = args
        self.sent = 0
        if args.mode == "custom":
            self.messages = custom_messages(self.get_clock().now().to_msg())
            self.pubs = {topic: self.create_publisher(type(msg), topic, 10)
                         for topic, msg in self.messages.items()}
            self.timer = self.create_timer(0.1, self.publish_custom)
        else:
            import numpy as np
            from sensor_msgs.msg import Image

            from rgbt_perception.outputs import array_to_image

            self.image = array_to_image(np.zeros((args.height, args.width, 3), np.uint8), "rgb8")
            self.image.header.frame_id = "camera"
            self.pub = self.create_publisher(Image, "image", qos_profile_sensor_data)
            self.timer = self.create_timer(1.0 / args.rate, self.publish_image)
        self.get_logger().info("talker ready")

    def publish_custom(self) -> None:
        for topic, publisher in self.pubs.items():
            publisher.publish(self.messages[topic])

    def publish_image(self) -> None:
        if self.pub.get_subscription_count() == 0 and self.sent == 0:
            return
        self.image.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(self.image)
        self.sent += 1
        if self.sent >= self.args.count:
            self.get_logger().info(f"sent {self.sent}")
            self.timer.cancel()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    rclpy.init(args=argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["custom", "images"])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    node = Talker(args)
    return run_single_threaded(node)


if __name__ == "__main__":
    sys.exit(main())
