"""Helpers of the node tests: synthetic image messages and the node's test parameters."""

from __future__ import annotations

import numpy as np
from ros_harness import REPO_ROOT

from rgbt_models.data.synthetic import make_scene

MODEL_CONFIGS = REPO_ROOT / "rgbt_models" / "rgbt_models" / "configs"
TEST_NODE_ARGS = [
    "--params-file", str(REPO_ROOT / "config" / "rgbt.yaml"),
    "-p", "allow_untrained:=true",
    "-p", f"sartm.config:={MODEL_CONFIGS / 'sartm' / 'test.yaml'}",
    "-p", f"samsod.config:={MODEL_CONFIGS / 'samsod' / 'test.yaml'}",
    "-p", "model_height:=128", "-p", "model_width:=160",
    "-p", "thermal.timeout:=0.6", "-p", "diagnostics_period:=0.25",
]


def image_msg(array: np.ndarray, encoding: str, sec: int, nanosec: int, frame_id: str = "camera"):
    from sensor_msgs.msg import Image

    array = np.ascontiguousarray(array)
    msg = Image(height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=0,
                step=int(array.strides[0]), data=array.tobytes())
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    return msg


def scene_pair(index: int, sec: int, nanosec: int, height: int = 128, width: int = 160):
    scene = make_scene(index, height, width)
    return (image_msg(scene.rgb, "rgb8", sec, nanosec, "rgb_camera"),
            image_msg(scene.thermal_raw, "mono16", sec, nanosec, "thermal_camera"))
