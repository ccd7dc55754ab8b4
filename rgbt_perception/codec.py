"""sensor_msgs/Image and CompressedImage <-> numpy for the node.

Decoding is the model library's (rgbt_models.data.image_codec: pure numpy, shared with bag
loading and replay); cv_bridge does the pixel conversion when it is importable (a normal ROS
install), after the same checks, and gives the same arrays. Encoding outputs needs sensor_msgs.
"""

from __future__ import annotations

import numpy as np

from rgbt_models.data import image_codec
from rgbt_models.data.image_codec import (
    RGB_ENCODINGS,
    THERMAL_ENCODINGS,
    BadImage,
    check_image,
    check_message,
    has_finite_pixel,
    is_compressed,
    to_rgb,
)

try:  # pragma: no cover - only on a ROS install with cv_bridge
    from cv_bridge import CvBridge

    _BRIDGE = CvBridge()
except ImportError:
    _BRIDGE = None

__all__ = ["RGB_ENCODINGS", "THERMAL_ENCODINGS", "BadImage", "array_to_image", "check_image", "check_message",
           "decode_rgb", "decode_thermal", "has_finite_pixel", "image_to_array", "is_compressed", "to_rgb"]


def image_to_array(msg, allowed: tuple[str, ...], max_pixels: int = 0) -> np.ndarray:
    """The image as (H, W) or (H, W, C) numpy array in its own encoding and dtype (a copy)."""
    if _BRIDGE is None:
        return image_codec.image_to_array(msg, allowed, max_pixels)
    check_image(msg, allowed, max_pixels)  # pragma: no cover
    return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"), copy=True)  # pragma: no cover


def decode_rgb(msg, max_pixels: int = 0) -> np.ndarray:
    """An RGB Image or CompressedImage as (H, W, 3) uint8 RGB (raw ones through cv_bridge where installed)."""
    return image_codec.decode_rgb(msg, max_pixels, image_to_array)


def decode_thermal(msg, max_pixels: int = 0) -> np.ndarray:
    """A thermal Image or CompressedImage as (H, W) in its own dtype."""
    return image_codec.decode_thermal(msg, max_pixels, image_to_array)


def array_to_image(array: np.ndarray, encoding: str, header=None):
    """numpy (H, W) uint8 'mono8' or (H, W, 3) uint8 'rgb8' -> sensor_msgs/Image."""
    from sensor_msgs.msg import Image

    array = np.ascontiguousarray(array)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.strides[0])
    msg.data = array.tobytes()
    return msg
