"""The geometry policy, from training to evaluation to replay to the robot.

Policy ("resize the whole frame, then augment"): every frame is resized as a whole to the
model input size (H, W) -- nothing is cropped away and the camera's aspect ratio is mapped
onto the model's, the same way on the robot as in evaluation. Training applies its random
scale (0.75-1.25) and crop or pad *after* that resize, so at scale 1 a training sample is
exactly what the node feeds the model. Predictions are upsampled (bilinear, on probabilities)
to the label's native size before scoring, as mmsegmentation and the SOD benchmarks do; the
node upsamples to the RGB image's size (or output.height/width) the same way.

Choose a model input size with the camera's aspect ratio (`aspect_input_size`) to avoid the
squash: e.g. 640x352 for a 1280x720 camera instead of 512x512.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# The size rule lives with the config readers (which need it without loading torch); kept here too.
from rgbt_models.config import STRIDE, check_input_size, nearest_multiple  # noqa: F401 - re-exported


def aspect_input_size(image_height: int, image_width: int, long_side: int) -> tuple[int, int]:
    """A model input size (H, W), multiples of 32, with the image's aspect ratio and `long_side`."""
    if image_height >= image_width:
        return nearest_multiple(long_side), nearest_multiple(long_side * image_width / image_height)
    return nearest_multiple(long_side * image_height / image_width), nearest_multiple(long_side)


def model_input_size(model, height: int | None = 0, width: int | None = 0, frame_shape=None,
                     source: str = "model input size") -> tuple[int, int]:
    """The model-size rule, (H, W) a model runs at: the size given (one side alone: a square),
    else (0 or None) the size its checkpoint was trained at, else its backbone's image_size as a
    square or, with `frame_shape` (the data's (H, W), or a callable asked only when needed), as
    the long side of the data's aspect ratio. Each model its own: the authors' SAMSOD at 512x512
    runs beside their SARTM at 1280x1280. Checked (multiples of 32), `source` naming the setting."""
    if height or width:
        size = (height or width, width or height)
    elif getattr(model, "input_size", None):
        size = tuple(model.input_size)
    elif frame_shape is not None:
        shape = frame_shape() if callable(frame_shape) else frame_shape
        size = aspect_input_size(*shape[:2], model.config.backbone.image_size)
    else:
        size = (model.config.backbone.image_size,) * 2
    check_input_size(*size, source=source)
    return size


def resize_rgb(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """RGB (h, w, 3) uint8 -> (height, width, 3) float32 in [0, 1]."""
    resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return resized.astype(np.float32) / np.float32(255.0)


def resize_thermal(thermal01: np.ndarray, height: int, width: int) -> np.ndarray:
    """Normalised thermal (h, w) float32 in [0, 1] -> (height, width) float32."""
    return cv2.resize(np.ascontiguousarray(thermal01, np.float32), (width, height), interpolation=cv2.INTER_AREA)


def resize_label(label: np.ndarray, height: int, width: int) -> np.ndarray:
    """Class ids: nearest neighbour, so that no id is invented at a boundary."""
    return cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)


def resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Saliency ground truth 0..255: bilinear (binarised later at > 128, as PySODMetrics does)."""
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)


def to_output_size(maps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, C, h, w) probabilities or saliency -> (B, C, height, width), bilinear, float32."""
    maps = maps.float()
    if maps.shape[-2:] == (height, width):
        return maps
    return F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)


def semantic_at(probabilities: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class ids (B, H, W) and their confidence at the output size: upsample, then argmax."""
    confidence, ids = to_output_size(probabilities, height, width).max(dim=1)
    return ids, confidence


GEOMETRY_MODES = ("resize", "pad")
RESIZE_FILTERS = ("area", "pil_bilinear")


@dataclass(frozen=True)
class InputGeometry:
    """How a frame becomes one model's input of (height, width), recorded in its checkpoint.

    resize (our models, and the SAMSOD authors' evaluation): the whole frame resized to the input,
    with cv2's area filter ("area", ours) or PIL's bilinear filter ("pil_bilinear", what
    torchvision's Resize does to a PIL image in the SAMSOD authors' test loader). pad (the SARTM
    authors' evaluation): the frame kept at its size, zero-padded bottom/right to the input (a frame
    larger than the input is first shrunk to fit, keeping its aspect ratio); predictions are cropped
    back to the frame before they are resized to the output.
    """

    mode: str = "resize"
    resize: str = "area"

    def __post_init__(self) -> None:
        if self.mode not in GEOMETRY_MODES or self.resize not in RESIZE_FILTERS:
            raise ValueError(f"input geometry must be {GEOMETRY_MODES} with resize {RESIZE_FILTERS}, "
                             f"got {self.mode!r} / {self.resize!r}")

    @classmethod
    def from_dict(cls, values: dict | None) -> InputGeometry:
        values = values or {}
        return cls(str(values.get("geometry", "resize")), str(values.get("resize", "area")))

    def to_dict(self) -> dict:
        return {"geometry": self.mode, "resize": self.resize}

    def content_size(self, image_hw: tuple[int, int], height: int, width: int) -> tuple[int, int]:
        """(h, w) of the frame's pixels inside the (height, width) input."""
        if self.mode == "resize":
            return height, width
        h, w = image_hw
        scale = min(1.0, height / h, width / w)
        return min(height, round(h * scale)), min(width, round(w * scale))

    def _resize(self, image: np.ndarray, height: int, width: int, eight_bit: bool) -> np.ndarray:
        if image.shape[:2] == (height, width):
            return image.astype(np.float32) / np.float32(255.0) if eight_bit else image.astype(np.float32)
        if self.resize == "pil_bilinear":
            from PIL import Image

            if eight_bit:
                resized = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
                return resized.astype(np.float32) / np.float32(255.0)
            floating = Image.fromarray(image.astype(np.float32), mode="F")
            return np.asarray(floating.resize((width, height), Image.BILINEAR))
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return resized.astype(np.float32) / np.float32(255.0) if eight_bit else resized.astype(np.float32)

    def apply(self, image: np.ndarray, height: int, width: int, eight_bit: bool) -> np.ndarray:
        """An RGB (h, w, 3) uint8 (eight_bit) or thermal (h, w) float [0, 1] frame -> float32 [0, 1] input."""
        content = self.content_size(image.shape[:2], height, width)
        resized = self._resize(np.ascontiguousarray(image), *content, eight_bit)
        if content == (height, width):
            return resized
        canvas = np.zeros((height, width, *resized.shape[2:]), np.float32)
        canvas[:content[0], :content[1]] = resized
        return canvas

    def prepare(self, rgb: np.ndarray, thermal01: np.ndarray | None, thermal_eight_bit: bool, height: int,
                width: int) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
        """RGB (h, w, 3) uint8 and thermal in [0, 1] (None: absent) -> the model's (height, width, 3)
        and (height, width) float32 inputs and the (h, w) the frame covers in them, alike for every
        tool that runs a model. thermal_eight_bit: the thermal frame was 8-bit; for PIL's
        filter it is resized in its 8-bit steps, as the authors' image loaders do."""
        rgb_in = self.apply(rgb, height, width, eight_bit=True)
        content = self.content_size(rgb.shape[:2], height, width)
        if thermal01 is None:
            return rgb_in, None, content
        eight_bit = thermal_eight_bit and self.resize == "pil_bilinear"
        thermal = np.round(thermal01 * 255.0).clip(0, 255).astype(np.uint8) if eight_bit else thermal01
        if self.mode == "pad" and thermal.shape[:2] != rgb.shape[:2]:  # padding places it on RGB's grid
            thermal = cv2.resize(thermal, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA)
        return rgb_in, self.apply(thermal, height, width, eight_bit), content
