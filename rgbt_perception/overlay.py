"""The overlay panel (RGB | thermal | SARTM classes | SAMSOD saliency and objects), for rgbt-replay's
images and video and for the node's live debug/overlay topic; and the node's side of that topic:
off by default, throttled, and not even composed while nobody subscribes."""

from __future__ import annotations

import time

import cv2
import numpy as np

from rgbt_models.data.thermal import ThermalSetup, thermal_to_unit

TITLE_HEIGHT = 18
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    """The panel under a black strip holding its title."""
    strip = np.zeros((TITLE_HEIGHT, panel.shape[1], 3), np.uint8)
    cv2.putText(strip, title, (4, TITLE_HEIGHT - 5), FONT, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def class_legend(names, colors, width: int) -> np.ndarray:
    """Colour swatches with the class names, wrapped to `width` (the same height every frame)."""
    entries, rows, x = [], 0, 4
    for name, color in zip(names, colors):
        text_width = cv2.getTextSize(name, FONT, 0.4, 1)[0][0]
        if x + 16 + text_width > width and x > 4:
            rows, x = rows + 1, 4
        entries.append((x, rows, name, color))
        x += 16 + text_width + 12
    legend = np.zeros(((rows + 1) * 18 + 4, width, 3), np.uint8)
    for x, row, name, color in entries:
        y = row * 18 + 4
        cv2.rectangle(legend, (x, y), (x + 11, y + 11), tuple(int(c) for c in color), -1)
        cv2.rectangle(legend, (x, y), (x + 11, y + 11), (160, 160, 160), 1)  # a black class shows too
        cv2.putText(legend, name, (x + 16, y + 10), FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return legend


def overlay(rgb: np.ndarray, thermal: np.ndarray | None, result, thermal_setup: ThermalSetup | None = None,
            classes=None) -> np.ndarray:
    """One titled panel row: RGB | thermal | SARTM classes blended on RGB | SAMSOD saliency heat
    map with its objects' boxes; under it the class legend when `classes` (names, colors) is
    given. RGB uint8."""
    h, w = rgb.shape[:2]
    if thermal is not None:
        t = (thermal_to_unit(thermal, thermal_setup or ThermalSetup()) * 255).astype(np.uint8)
        t = cv2.cvtColor(cv2.applyColorMap(cv2.resize(t, (w, h)), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    else:
        t = np.zeros_like(rgb)
        cv2.putText(t, "THERMAL MISSING", (8, h // 2), FONT, 0.5, (255, 80, 80), 1)
    panels = [_titled(rgb, "RGB"), _titled(t, "thermal (inferno)")]
    if result.semantic_color is not None:
        colors = cv2.resize(result.semantic_color, (w, h), interpolation=cv2.INTER_NEAREST)
        panels.append(_titled(cv2.addWeighted(rgb, 0.4, colors, 0.6, 0), "SARTM classes"))
    else:
        paused = (rgb * 0.3).astype(np.uint8)
        cv2.putText(paused, "SARTM paused", (8, h // 2), FONT, 0.5, (255, 255, 255), 1)
        panels.append(_titled(paused, "SARTM classes"))
    if result.saliency_map is not None:
        heat = cv2.cvtColor(cv2.applyColorMap(cv2.resize(result.saliency_map, (w, h)), cv2.COLORMAP_JET),
                            cv2.COLOR_BGR2RGB)
        sal = cv2.addWeighted(rgb, 0.5, heat, 0.5, 0)
        for obj in result.objects:
            sx, sy = w / result.saliency_map.shape[1], h / result.saliency_map.shape[0]
            cv2.rectangle(sal, (int(obj.x * sx), int(obj.y * sy)),
                          (int((obj.x + obj.width) * sx), int((obj.y + obj.height) * sy)), (255, 255, 255), 1)
        panels.append(_titled(sal, "SAMSOD saliency + objects"))
    row = np.concatenate(panels, axis=1)
    if classes is None:
        return row
    return np.concatenate([row, class_legend(classes.names, classes.colors, row.shape[1])], axis=0)


OVERLAY_TOPIC = "debug/overlay"


class LiveOverlay:
    """The node's debug/overlay publisher (rgb8), at most `rate` Hz; rate 0: no publisher at all.

    `wanted(subscribed)` says which pipeline outputs the next frame must also make for a panel (none
    while nobody subscribes, or before the next panel is due), `publish(...)` composes and sends it."""

    def __init__(self, node, rate: float, clock=time.monotonic) -> None:
        from sensor_msgs.msg import Image

        self.rate, self.clock, self.last = rate, clock, float("-inf")
        self.published = 0
        self.publisher = node.create_publisher(Image, OVERLAY_TOPIC, 1) if rate > 0 else None

    def due(self) -> bool:
        return (self.publisher is not None and self.publisher.get_subscription_count() > 0
                and self.clock() - self.last >= 1.0 / self.rate)

    def wanted(self) -> frozenset[str]:
        """What the pipeline must make for the next panel: the class colours and the objects' boxes."""
        return frozenset({"semantic/color", "saliency/objects"}) if self.due() else frozenset()

    def publish(self, rgb: np.ndarray, thermal: np.ndarray | None, result, header, pipeline) -> bool:
        """Compose and publish a panel of `pipeline`'s result if one is due; whether it did."""
        if not self.due():
            return False
        from rgbt_perception.outputs import array_to_image

        self.last = self.clock()
        classes = pipeline.sartm.classes if pipeline.sartm is not None else None
        message = array_to_image(overlay(rgb, thermal, result, pipeline.config.thermal, classes), "rgb8")
        message.header = header
        self.publisher.publish(message)
        self.published += 1
        return True
