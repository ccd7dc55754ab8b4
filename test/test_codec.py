"""Image message <-> numpy conversion on every supported encoding, and the bad cases."""

from __future__ import annotations

import numpy as np
import pytest

from rgbt_models.data.image_codec import (
    RGB_ENCODINGS,
    THERMAL_ENCODINGS,
    BadImage,
    image_to_array,
    to_rgb,
)
from rgbt_perception.outputs import array_to_image
from rgbt_perception.testing.node_fixtures import image_msg

pytestmark = pytest.mark.ros
rng = np.random.default_rng(0)
RGB = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", RGB_ENCODINGS)
def test_rgb_encodings_decode_to_rgb(encoding):
    source = {"rgb8": RGB, "bgr8": RGB[..., ::-1], "rgba8": np.dstack([RGB, np.full((6, 7), 9, np.uint8)]),
              "bgra8": np.dstack([RGB[..., ::-1], np.full((6, 7), 9, np.uint8)]), "mono8": RGB[..., 0]}[encoding]
    decoded = to_rgb(image_to_array(image_msg(source, encoding, 1, 0), RGB_ENCODINGS), encoding)
    expected = np.repeat(RGB[..., :1], 3, axis=2) if encoding == "mono8" else RGB
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, expected)


@pytest.mark.parametrize(("encoding", "dtype"), [("mono8", np.uint8), ("mono16", np.uint16),
                                                 ("16UC1", np.uint16), ("32FC1", np.float32)])
def test_thermal_encodings_keep_their_values(encoding, dtype):
    assert encoding in THERMAL_ENCODINGS
    source = (rng.random((5, 9)) * 30000).astype(dtype)
    decoded = image_to_array(image_msg(source, encoding, 1, 0), THERMAL_ENCODINGS)
    assert decoded.dtype == dtype and np.array_equal(decoded, source)


def test_padded_rows_and_big_endian():
    source = (rng.random((4, 5)) * 60000).astype(np.uint16)
    msg = image_msg(source.astype(">u2"), "mono16", 1, 0)
    msg.is_bigendian = 1
    padded = np.zeros((4, 16), np.uint8)
    padded[:, :10] = np.frombuffer(source.astype(">u2").tobytes(), np.uint8).reshape(4, 10)
    msg.step, msg.data = 16, padded.tobytes()
    assert np.array_equal(image_to_array(msg, THERMAL_ENCODINGS), source)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: setattr(m, "encoding", "yuv422"), "unsupported encoding"),
    (lambda m: setattr(m, "data", bytes(5)), "expected step x height"),
    (lambda m: setattr(m, "step", 3), "step 3 is smaller"),
    (lambda m: setattr(m, "height", 0), "empty image"),
    (lambda m: setattr(m, "width", 0), "empty image"),
])
def test_malformed_images_raise_bad_image(change, message):
    msg = image_msg(RGB, "rgb8", 1, 0)
    change(msg)
    with pytest.raises(BadImage, match=message):
        image_to_array(msg, RGB_ENCODINGS)


def test_size_limit():
    with pytest.raises(BadImage, match="exceeds the configured limit"):
        image_to_array(image_msg(RGB, "rgb8", 1, 0), RGB_ENCODINGS, max_pixels=10)


def test_round_trip_of_outputs():
    mask = rng.integers(0, 4, (6, 7), dtype=np.uint8)
    msg = array_to_image(mask, "mono8")
    assert np.array_equal(image_to_array(msg, ("mono8",)), mask)
    msg = array_to_image(RGB, "rgb8")
    assert np.array_equal(image_to_array(msg, ("rgb8",)), RGB)


# -- sensor_msgs/CompressedImage ------------------------------------------------------------------
def compressed_msg(array, encoding, codec="png"):
    from sensor_msgs.msg import CompressedImage

    from rgbt_models.data.image_codec import encode_compressed

    fmt, data = encode_compressed(array, encoding, codec)
    return CompressedImage(format=fmt, data=data)


def test_compressed_png_is_lossless_for_rgb_and_16_bit_thermal():
    from rgbt_models.data.image_codec import decode_rgb, decode_thermal

    thermal = (rng.random((6, 7)) * 60000).astype(np.uint16)
    assert compressed_msg(thermal, "mono16").format == "mono16; png compressed"
    assert np.array_equal(decode_rgb(compressed_msg(RGB, "rgb8")), RGB)
    assert np.array_equal(decode_rgb(compressed_msg(RGB[..., ::-1], "bgr8")), RGB)
    decoded = decode_thermal(compressed_msg(thermal, "mono16"))
    assert decoded.dtype == np.uint16 and np.array_equal(decoded, thermal)
    assert decode_thermal(compressed_msg(thermal.astype(np.uint8), "mono8")).dtype == np.uint8


def test_compressed_jpeg_decodes_close_to_the_original_in_rgb_order():
    from rgbt_models.data.image_codec import decode_rgb

    smooth = np.zeros((32, 48, 3), np.uint8)
    smooth[..., 0], smooth[..., 2] = 200, 40  # red, a little blue: a channel swap would be obvious
    decoded = decode_rgb(compressed_msg(smooth, "rgb8", "jpeg"))
    assert decoded.shape == smooth.shape and np.abs(decoded.astype(int) - smooth).max() <= 3


@pytest.mark.parametrize(("change", "stream", "message"), [
    (lambda m: setattr(m, "data", b"\x89PNG not really"), "rgb", "cannot be decoded"),
    (lambda m: setattr(m, "data", b""), "rgb", "holds no data"),
    (lambda m: setattr(m, "format", "16UC1; compressedDepth png"), "thermal", "compressedDepth"),
    (lambda m: setattr(m, "format", "theora"), "rgb", "unsupported compressed format"),
    (lambda m: None, "thermal", "3 channels"),  # a colour image on the thermal stream
])
def test_bad_compressed_images_raise_bad_image(change, stream, message):
    from rgbt_models.data.image_codec import decode_rgb, decode_thermal

    msg = compressed_msg(RGB, "rgb8")
    change(msg)
    with pytest.raises(BadImage, match=message):
        (decode_rgb if stream == "rgb" else decode_thermal)(msg)


def test_compressed_size_limit_applies_after_decoding():
    from rgbt_models.data.image_codec import decode_rgb

    with pytest.raises(BadImage, match="exceeds the configured limit"):
        decode_rgb(compressed_msg(RGB, "rgb8"), max_pixels=10)


@pytest.mark.parametrize(("encoding", "shape", "dtype", "step"), [
    ("rgb8", (3, 5, 3), np.uint8, 17),     # 15 bytes of pixels + 2: not a whole pixel of padding
    ("mono16", (4, 5), np.uint16, 11),     # 10 bytes + 1
    ("32FC1", (2, 3), np.float32, 14),     # 12 bytes + 2
])
def test_row_padding_that_is_not_a_whole_pixel_decodes_unskewed(encoding, shape, dtype, step):
    """cv_bridge computes a row's stride as int(step / itemsize / channels) and skews such rows;
    the node's decoder (the only one it uses) honours step byte for byte."""
    source = (rng.random(shape) * 200).astype(dtype)
    row = source[0].nbytes
    padded = np.full((shape[0], step), 0xAB, np.uint8)
    padded[:, :row] = np.frombuffer(source.tobytes(), np.uint8).reshape(shape[0], row)
    msg = image_msg(source, encoding, 1, 0)
    msg.step, msg.data = step, padded.tobytes()
    allowed = RGB_ENCODINGS if encoding == "rgb8" else THERMAL_ENCODINGS
    assert np.array_equal(image_to_array(msg, allowed), source)
