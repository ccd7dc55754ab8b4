"""sensor_msgs/Image fields -> numpy, without ROS.

Works on any object with the fields of sensor_msgs/Image (height, width, step, encoding,
is_bigendian, data): rclpy messages in the node, `rosbags` messages when reading bags. Every
malformed message raises BadImage with the reason.
"""

from __future__ import annotations

import numpy as np

RGB_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
THERMAL_ENCODINGS = ("mono8", "mono16", "16UC1", "32FC1")
# encoding -> (numpy dtype, channels)
_LAYOUT = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "rgba8": (np.uint8, 4), "bgra8": (np.uint8, 4),
           "mono8": (np.uint8, 1), "mono16": (np.uint16, 1), "16UC1": (np.uint16, 1), "32FC1": (np.float32, 1)}

class BadImage(ValueError):
    """A sensor_msgs/Image that cannot be decoded, with the reason."""


def check_image(msg, allowed: tuple[str, ...], max_pixels: int = 0) -> None:
    """Validate a message's layout without touching its pixels (cheap enough for a callback)."""
    encoding = msg.encoding
    if encoding not in allowed:
        raise BadImage(f"unsupported encoding {encoding!r} (supported: {', '.join(allowed)})")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise BadImage(f"empty image {width}x{height}")
    if max_pixels and height * width > max_pixels:
        raise BadImage(f"image {width}x{height} exceeds the configured limit of {max_pixels} pixels")
    dtype, channels = _LAYOUT[encoding]
    row_bytes = width * channels * np.dtype(dtype).itemsize
    if step < row_bytes:
        raise BadImage(f"step {step} is smaller than width x bytes per pixel = {row_bytes}")
    if len(msg.data) < step * height:
        raise BadImage(f"data holds {len(msg.data)} bytes, expected step x height = {step * height}")


def image_to_array(msg, allowed: tuple[str, ...], max_pixels: int = 0) -> np.ndarray:
    """The image as (H, W) or (H, W, C) numpy array in its own encoding and dtype (a copy)."""
    check_image(msg, allowed, max_pixels)
    encoding = msg.encoding
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    dtype, channels = _LAYOUT[encoding]
    row_bytes = width * channels * np.dtype(dtype).itemsize
    buffer = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, bytes | bytearray | memoryview)
                           else msg.data, dtype=np.uint8, count=step * height)
    rows = buffer.reshape(height, step)[:, :row_bytes]
    big_endian = bool(msg.is_bigendian)
    array_dtype = np.dtype(dtype).newbyteorder(">" if big_endian else "<")
    image = np.ascontiguousarray(rows).view(array_dtype).reshape(height, width, channels)
    image = image.astype(np.dtype(dtype).newbyteorder("="), copy=True)
    return image[..., 0] if channels == 1 else image


def has_finite_pixel(msg) -> bool:
    """For a 32FC1 image: whether any pixel is finite (row padding is not looked at). Raises
    BadImage for a malformed message, like image_to_array."""
    return bool(np.isfinite(image_to_array(msg, ("32FC1",))).any())


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """Any supported RGB-camera encoding to (H, W, 3) uint8 RGB."""
    if encoding == "rgb8":
        return image
    if encoding == "bgr8":
        return image[..., ::-1].copy()
    if encoding == "rgba8":
        return image[..., :3].copy()
    if encoding == "bgra8":
        return image[..., 2::-1].copy()
    return np.repeat(image[..., None], 3, axis=2)  # mono8
