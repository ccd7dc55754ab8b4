"""sensor_msgs/Image and CompressedImage <-> numpy for the node.

Decoding is the model library's (rgbt_models.data.image_codec: pure numpy, shared with bag
loading and replay) on every install. cv_bridge is not used for it, even where it is installed:
it computes a row's stride as int(step / itemsize / channels), so a row padding that is not a
whole number of pixels comes out skewed, where image_codec honours `step` byte for byte (the
padded-row tests in test_codec.py). Encoding outputs needs sensor_msgs.
"""

from __future__ import annotations

import array

import numpy as np

from rgbt_models.data.image_codec import (
    RGB_ENCODINGS,
    THERMAL_ENCODINGS,
    BadImage,
    check_image,
    check_message,
    decode_rgb,
    decode_thermal,
    has_finite_pixel,
    image_to_array,
    is_compressed,
    to_rgb,
)

__all__ = ["RGB_ENCODINGS", "THERMAL_ENCODINGS", "BadImage", "array_to_image", "check_image", "check_message",
           "decode_rgb", "decode_thermal", "has_finite_pixel", "image_to_array", "is_compressed", "to_rgb"]


def array_to_image(image: np.ndarray, encoding: str, header=None):
    """numpy (H, W) or (H, W, C) -> sensor_msgs/Image in `encoding` (the node's outputs: uint8
    'mono8' and 'rgb8'); `step` is the array's row stride, data its bytes.

    The pixels go in as array.array('B'): the generated message code's fast path on every
    distribution. Given bytes, Humble's code checks every element in Python (Jazzy and later do
    too with ROS_PYTHON_CHECK_FIELDS=1): ~100 ms for a 640x480 rgb8 image."""
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
