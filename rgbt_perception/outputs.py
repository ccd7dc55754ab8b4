"""A frame's results as ROS messages, for the node (rclpy) and for rgbt-replay --record
(rosbags), so that a recorded bag holds what the robot publishes; and numpy images as
sensor_msgs/Image (`array_to_image`).

`frame_messages` builds the per-frame outputs of a pipeline Result through a message factory:
`RclpyMessages` makes rclpy messages, `replay.recording.BagMessages` makes rosbags messages. The node adds
what only it has (camera_info of the RGB camera, vision_msgs forms) with `node_messages`.
"""

from __future__ import annotations

import array
import importlib
import os
from collections.abc import Iterable
from typing import Protocol

import numpy as np

# ROS-free at import (vision_msgs is optional): the per-frame functions below look nothing up.
from rgbt_perception import vision_msgs_out
from rgbt_perception.camera_info import scale_camera_info

SEMANTIC = ("semantic/mask", "semantic/color", "semantic/classes")
SALIENCY = ("saliency/map", "saliency/mask", "saliency/objects")
FRAME_TOPICS = SEMANTIC + SALIENCY + ("uncertainty",)
# The image outputs: topic, Result attribute, encoding.
IMAGES = (("semantic/mask", "semantic_mask", "mono8"), ("semantic/color", "semantic_color", "rgb8"),
          ("saliency/map", "saliency_map", "mono8"), ("saliency/mask", "saliency_mask", "mono8"))


def array_to_image(image: np.ndarray, encoding: str, header=None):
    """numpy (H, W) or (H, W, C) -> sensor_msgs/Image in `encoding` (the node's outputs: uint8
    'mono8' and 'rgb8'); `step` is the array's row stride, data its bytes.

    The pixels go in as array.array('B'): the generated message code's fast path on every
    distribution. Given bytes, Humble's code checks every element in Python (Jazzy and later do
    too with ROS_PYTHON_CHECK_FIELDS=1), slow for a camera-sized image (docs/robot_install.md has
    the figure)."""
    from sensor_msgs.msg import Image

    image = np.ascontiguousarray(image)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(image.strides[0])
    data = array.array("B")
    data.frombytes(memoryview(image).cast("B"))  # one copy of the pixels
    msg.data = data
    return msg


class MessageFactory(Protocol):
    """Makes messages of one ROS Python binding."""

    def message(self, type_name: str, **fields): ...

    def image(self, image: np.ndarray, encoding: str, header): ...

    def array(self, values: Iterable, dtype) -> object: ...


def frame_messages(result, header, wanted: Iterable[str], make: MessageFactory) -> dict[str, object]:
    """topic (relative, as the node advertises it) -> message, for each topic in `wanted` that
    the result has."""
    wanted = set(wanted)
    out: dict[str, object] = {}
    for topic, attribute, encoding in IMAGES:
        image = getattr(result, attribute)
        if topic in wanted and image is not None:
            out[topic] = make.image(image, encoding, header)
    if result.semantic_mask is not None and "semantic/classes" in wanted:
        stats = result.class_stats
        out["semantic/classes"] = make.message(
            "rgbt_msgs/msg/SemanticClasses", header=header,
            class_ids=make.array([s.class_id for s in stats], np.uint16), class_names=[s.name for s in stats],
            pixel_fractions=make.array([s.pixel_fraction for s in stats], np.float32),
            mean_confidences=make.array([s.mean_confidence for s in stats], np.float32),
            mean_temperatures=make.array([s.mean_temperature for s in stats], np.float32))
    if result.saliency_map is not None and "saliency/objects" in wanted:
        height, width = result.saliency_map.shape
        objects = [make.message(
            "rgbt_msgs/msg/SalientObject",
            bbox=make.message("sensor_msgs/msg/RegionOfInterest", x_offset=o.x, y_offset=o.y, height=o.height,
                              width=o.width, do_rectify=False),
            area=o.area, mean_saliency=o.mean_saliency, centroid_x=o.centroid_x, centroid_y=o.centroid_y,
            mean_temperature=o.mean_temperature, max_temperature=o.max_temperature)
            for o in result.objects]
        out["saliency/objects"] = make.message("rgbt_msgs/msg/SalientObjects", header=header, height=height,
                                               width=width, objects=objects)
    if result.uncertainty and "uncertainty" in wanted:
        parts = result.uncertainty
        out["uncertainty"] = make.message("rgbt_msgs/msg/FrameUncertainty", header=header,
                                          uncertainty=parts["combined"], saliency=parts["saliency"],
                                          semantic=parts["semantic"])
    return out


def node_messages(result, header, wanted: Iterable[str], camera_info=None) -> dict[str, object]:
    """The node's outputs beyond `frame_messages`: camera_info beside each output (the RGB
    camera's, scaled to the output size) and the salient objects as vision_msgs detections."""
    wanted = set(wanted)
    out: dict[str, object] = {}
    if camera_info is not None:
        for prefix, image in (("semantic", result.semantic_mask), ("saliency", result.saliency_map)):
            if f"{prefix}/camera_info" in wanted and image is not None:
                out[f"{prefix}/camera_info"] = scale_camera_info(camera_info, *image.shape[:2], header)
    if "saliency/detections" in wanted and result.saliency_map is not None:
        out["saliency/detections"] = vision_msgs_out.detections(header, result.objects)
    return out


class RclpyMessages:
    """rclpy messages by type name ('pkg/msg/Type')."""

    def __init__(self) -> None:
        self._types: dict[str, type] = {}

    def message(self, type_name: str, **fields):
        if type_name not in self._types:
            package, _, name = type_name.split("/")
            self._types[type_name] = getattr(importlib.import_module(f"{package}.msg"), name)
        return self._types[type_name](**fields)

    def image(self, image: np.ndarray, encoding: str, header):
        return array_to_image(image, encoding, header)

    def array(self, values: Iterable, dtype) -> list:
        cast = float if np.dtype(dtype).kind == "f" else int
        return [cast(v) for v in values]


def advertise(node, pipeline) -> tuple[dict[str, object], list]:
    """Create the node's output publishers for the models the pipeline runs: (topic -> publisher
    of the per-frame outputs, the latched publishers). The class map (and vision_msgs' LabelInfo
    where vision_msgs is installed) is published once, latched."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    from rgbt_msgs.msg import ClassMap, FrameUncertainty, SalientObjects, SemanticClasses

    pubs: dict[str, object] = {"uncertainty": node.create_publisher(FrameUncertainty, "uncertainty", 5)}
    latched_pubs = []
    if pipeline.sartm is not None:
        for topic, kind in (("semantic/mask", Image), ("semantic/color", Image),  # color: output.color_overlay
                            ("semantic/classes", SemanticClasses), ("semantic/camera_info", CameraInfo)):
            pubs[topic] = node.create_publisher(kind, topic, 5)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        class_map = class_map_message(pipeline.sartm.classes, node.get_clock().now().to_msg())
        latched_pubs.append(node.create_publisher(ClassMap, "semantic/class_map", latched))
        latched_pubs[-1].publish(class_map)
        if vision_msgs_out.AVAILABLE:
            latched_pubs.append(node.create_publisher(vision_msgs_out.LabelInfo, "semantic/label_info", latched))
            latched_pubs[-1].publish(vision_msgs_out.label_info(class_map.header, pipeline.sartm.classes.names))
    if pipeline.samsod is not None:
        for topic, kind in (("saliency/map", Image), ("saliency/mask", Image), ("saliency/objects", SalientObjects),
                            ("saliency/camera_info", CameraInfo)):
            pubs[topic] = node.create_publisher(kind, topic, 5)
        if vision_msgs_out.AVAILABLE:
            pubs["saliency/detections"] = node.create_publisher(vision_msgs_out.Detection2DArray,
                                                                "saliency/detections", 5)
    if not vision_msgs_out.AVAILABLE:
        remedy = ("apt install ros-$ROS_DISTRO-vision-msgs" if os.environ.get("ROS_DISTRO")
                  else "vision_msgs is not on PyPI: a ROS install has it")
        node.get_logger().info("vision_msgs is not installed: saliency/detections and semantic/label_info are "
                               f"not published ({remedy})")
    return pubs, latched_pubs


def class_map_message(classes, stamp):
    """rgbt_msgs/ClassMap of a class list: id, name and overlay colour of every class."""
    from rgbt_msgs.msg import ClassInfo, ClassMap

    message = ClassMap(class_set=classes.name, ignore_id=classes.ignore_index,
                       classes=[ClassInfo(id=i, name=n, r=c[0], g=c[1], b=c[2])
                                for i, (n, c) in enumerate(zip(classes.names, classes.colors))])
    message.header.stamp = stamp
    return message
