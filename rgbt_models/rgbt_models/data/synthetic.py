"""Deterministic synthetic RGB-T scenes for tests, CI training and the demo.

A scene has a textured sky and ground, and warm pedestrians and vehicles. By day the RGB
image shows everything; at night the RGB image is dark and noisy and the objects are nearly
invisible in it, while the thermal image still shows them (people ~37 °C, engines warm, sky
cold). Each scene gives RGB, thermal (8-bit and 16-bit raw), semantic labels and a saliency
mask, all from one integer seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Class list of the synthetic scenes: (id, name, overlay colour).
SYNTHETIC_CLASSES = (
    (0, "background", (0, 0, 0)),
    (1, "sky", (70, 130, 180)),
    (2, "person", (220, 20, 60)),
    (3, "vehicle", (0, 0, 142)),
)
SALIENT_CLASSES = (2, 3)


@dataclass
class Scene:
    """One RGB-T frame: rgb (H, W, 3) uint8; thermal (H, W) uint8; thermal_raw (H, W) uint16
    (centi-kelvin, as radiometric cameras report); label (H, W) uint8 class ids; saliency
    (H, W) uint8 in {0, 255}; night flag."""

    rgb: np.ndarray
    thermal: np.ndarray
    thermal_raw: np.ndarray
    label: np.ndarray
    saliency: np.ndarray
    night: bool


def _texture(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """Smooth noise in [-1, 1]: upsampled random grid."""
    grid = rng.standard_normal((max(2, height // scale), max(2, width // scale))).astype(np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) / 2.0, -1, 1)


def make_scene(seed: int, height: int = 128, width: int = 160, night: bool | None = None,
               max_objects: int = 4) -> Scene:
    """Render the scene of `seed` (the same seed gives the same scene, bit for bit)."""
    rng = np.random.default_rng(seed)
    if night is None:
        night = bool(rng.random() < 0.5)
    horizon = int(height * rng.uniform(0.3, 0.45))
    label = np.zeros((height, width), np.uint8)
    label[:horizon] = 1

    # Temperatures in kelvin; RGB in 0..1 floats until the end.
    temperature = np.empty((height, width), np.float32)
    temperature[:horizon] = 260 + 8 * _texture(rng, horizon, width, 16)
    temperature[horizon:] = 288 + 4 * _texture(rng, height - horizon, width, 8)
    rgb = np.empty((height, width, 3), np.float32)
    sky = np.array([0.55, 0.7, 0.95]) if not night else np.array([0.05, 0.06, 0.12])
    ground = np.array([0.45, 0.42, 0.35]) if not night else np.array([0.08, 0.08, 0.07])
    rgb[:horizon] = sky + 0.08 * _texture(rng, horizon, width, 16)[..., None]
    rgb[horizon:] = ground + 0.12 * _texture(rng, height - horizon, width, 4)[..., None]

    for _ in range(int(rng.integers(1, max_objects + 1))):
        is_person = bool(rng.random() < 0.5)
        depth = rng.uniform(0.3, 1.0)  # 1 = near the camera
        base_y = int(horizon + depth * (height - horizon - 1))
        if is_person:
            h_obj, w_obj = int(height * 0.45 * depth) + 6, int(height * 0.12 * depth) + 3
        else:
            h_obj, w_obj = int(height * 0.28 * depth) + 4, int(height * 0.5 * depth) + 6
        x0 = int(rng.integers(0, max(1, width - w_obj)))
        y0 = max(0, base_y - h_obj)
        mask = np.zeros((height, width), np.uint8)
        if is_person:
            cv2.ellipse(mask, (x0 + w_obj // 2, y0 + h_obj // 2), (w_obj // 2, h_obj // 2), 0, 0, 360, 1, -1)
            cv2.circle(mask, (x0 + w_obj // 2, y0), max(2, w_obj // 2), 1, -1)
        else:
            cv2.rectangle(mask, (x0, y0 + h_obj // 3), (x0 + w_obj, base_y), 1, -1)
            cv2.rectangle(mask, (x0 + w_obj // 5, y0), (x0 + 4 * w_obj // 5, y0 + h_obj // 3), 1, -1)
        region = mask.astype(bool)
        label[region] = 2 if is_person else 3
        colour = rng.uniform(0.1, 0.9, 3)
        if night:
            colour = ground + rng.uniform(-0.03, 0.03, 3)  # nearly invisible in the dark
        rgb[region] = colour + 0.05 * _texture(rng, height, width, 4)[region][:, None]
        warm = (309.0 if is_person else 300.0 + 15 * rng.random()) + 1.5 * _texture(rng, height, width, 6)
        temperature[region] = warm[region]

    if night:
        rgb += rng.normal(0, 0.03, rgb.shape)
    rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    temperature += rng.normal(0, 0.4, temperature.shape).astype(np.float32)
    thermal_raw = np.clip(temperature * 100, 0, 65535).astype(np.uint16)
    thermal = np.clip((temperature - 255) / (315 - 255) * 255, 0, 255).astype(np.uint8)
    saliency = np.isin(label, SALIENT_CLASSES).astype(np.uint8) * 255
    return Scene(rgb, thermal, thermal_raw, label, saliency, night)


def make_batch(seeds, height: int = 128, width: int = 160, night: bool | None = None):
    """Stack scenes into float tensors: rgb (N,3,H,W) and thermal (N,1,H,W) in [0, 1],
    label (N,H,W) int64, saliency (N,1,H,W) float {0, 1}."""
    import torch

    scenes = [make_scene(int(s), height, width, night) for s in seeds]
    rgb = torch.from_numpy(np.stack([s.rgb for s in scenes])).permute(0, 3, 1, 2).float() / 255
    thermal = torch.from_numpy(np.stack([s.thermal for s in scenes]))[:, None].float() / 255
    label = torch.from_numpy(np.stack([s.label for s in scenes])).long()
    saliency = torch.from_numpy(np.stack([s.saliency for s in scenes]))[:, None].float() / 255
    return rgb, thermal, label, saliency
