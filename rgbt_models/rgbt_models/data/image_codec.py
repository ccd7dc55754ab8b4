"""sensor_msgs/Image and sensor_msgs/CompressedImage fields -> numpy, without ROS.

Works on any object with the fields of those messages (Image: height, width, step, encoding,
is_bigendian, data; CompressedImage: format, data): rclpy messages in the node, `rosbags`
messages when reading bags. Compressed data (jpeg, png incl. 16-bit png for thermal) is decoded
with OpenCV. Every malformed message raises BadImage with the reason.
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


# -- sensor_msgs/CompressedImage ------------------------------------------------------------------
# image_transport's `compressed` plugin writes format "<encoding>; <jpeg|png> compressed <bgr8|...>"
# (e.g. "rgb8; jpeg compressed bgr8", "mono16; png compressed"); older drivers write just "jpeg"
# or "png". `compressedDepth` (a 12-byte header before a PNG) is for depth images, not thermal.
COMPRESSED_FORMATS = ("jpeg", "jpg", "png")


def is_compressed(msg) -> bool:
    """Whether `msg` has the fields of sensor_msgs/CompressedImage (format + data, no encoding)."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def check_compressed(msg) -> None:
    """Validate a CompressedImage without decoding it (cheap enough for a callback)."""
    fmt = str(msg.format).lower()
    if "compresseddepth" in fmt:
        raise BadImage(f"compressedDepth images are not supported (format {msg.format!r}); "
                       "republish the thermal camera with the 'compressed' transport (png)")
    if fmt and not any(codec in fmt for codec in COMPRESSED_FORMATS):
        raise BadImage(f"unsupported compressed format {msg.format!r} (supported: jpeg, png)")
    if len(msg.data) == 0:
        raise BadImage("compressed image holds no data")


def compressed_to_array(msg, stream: str, max_pixels: int = 0) -> tuple[np.ndarray, str]:
    """Decode a CompressedImage with OpenCV: (array, encoding) where encoding names the layout
    as for raw images: 'rgb8' or 'mono8' for stream 'rgb'; 'mono8' or 'mono16' for 'thermal'
    (16-bit PNG keeps its 16 bits). Undecodable data raises BadImage with the reason."""
    import cv2

    check_compressed(msg)
    data = msg.data if isinstance(msg.data, bytes | bytearray) else bytes(msg.data)
    buffer = np.frombuffer(data, np.uint8)
    # OpenCV itself refuses images above OPENCV_IO_MAX_IMAGE_PIXELS (2^30) before allocating.
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadImage(f"compressed image ({msg.format or 'no format'}, {len(data)} bytes) cannot be decoded")
    height, width = image.shape[:2]
    if max_pixels and height * width > max_pixels:
        raise BadImage(f"image {width}x{height} exceeds the configured limit of {max_pixels} pixels")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if stream == "rgb":
        if image.dtype != np.uint8:
            raise BadImage(f"compressed RGB image decodes to {image.dtype}; expected 8 bits")
        if channels == 1:
            return image, "mono8"
        code = cv2.COLOR_BGRA2RGB if channels == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(image, code), "rgb8"
    if channels != 1:
        raise BadImage(f"compressed thermal image has {channels} channels; expected one (mono8 or 16-bit png)")
    return image, "mono16" if image.dtype == np.uint16 else "mono8"


def check_message(msg, stream: str, max_pixels: int = 0) -> None:
    """Validate a raw Image or a CompressedImage of `stream` ('rgb' | 'thermal') without
    decoding its pixels (a CompressedImage's size is known only once decoded)."""
    if is_compressed(msg):
        check_compressed(msg)
    else:
        check_image(msg, RGB_ENCODINGS if stream == "rgb" else THERMAL_ENCODINGS, max_pixels)


def decode_rgb(msg, max_pixels: int = 0) -> np.ndarray:
    """An RGB-camera message (raw Image or CompressedImage) as (H, W, 3) uint8 RGB."""
    if is_compressed(msg):
        image, encoding = compressed_to_array(msg, "rgb", max_pixels)
        return to_rgb(image, encoding)
    return to_rgb(image_to_array(msg, RGB_ENCODINGS, max_pixels), msg.encoding)


def decode_thermal(msg, max_pixels: int = 0) -> np.ndarray:
    """A thermal-camera message (raw Image or CompressedImage) as (H, W) in its own dtype
    (uint8, uint16 or float32); an all-non-finite 32FC1 frame raises BadImage."""
    if is_compressed(msg):
        return compressed_to_array(msg, "thermal", max_pixels)[0]
    thermal = image_to_array(msg, THERMAL_ENCODINGS, max_pixels)
    if thermal.dtype == np.float32 and not np.isfinite(thermal).any():
        raise BadImage("32FC1 thermal image has no finite pixel")
    return thermal


def encode_compressed(array: np.ndarray, encoding: str, codec: str = "png") -> tuple[str, bytes]:
    """(format, data) of a CompressedImage holding `array` the way image_transport's
    `compressed` plugin writes it: 'rgb8'/'bgr8' color or 'mono8'/'mono16' gray; jpeg or png
    (16-bit data needs png). For recording bags and for tests."""
    import cv2

    if codec not in ("png", "jpeg"):
        raise ValueError(f"codec must be png or jpeg, got {codec!r}")
    if encoding == "rgb8":
        pixels, kind = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2BGR), "bgr8"
    elif encoding in ("bgr8", "mono8", "mono16", "16UC1"):
        pixels, kind = np.ascontiguousarray(array), "mono16" if encoding == "16UC1" else encoding
    else:
        raise ValueError(f"cannot compress encoding {encoding!r}")
    if pixels.dtype == np.uint16 and codec == "jpeg":
        raise ValueError("16-bit images need png")
    ok, data = cv2.imencode(".png" if codec == "png" else ".jpg", pixels)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {encoding} image as {codec}")
    suffix = f" {kind}" if kind in ("bgr8", "rgb8") else ""
    return f"{encoding}; {codec} compressed{suffix}", data.tobytes()
