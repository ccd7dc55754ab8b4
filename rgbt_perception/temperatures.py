"""Temperatures from a radiometric thermal camera, in the outputs' pixel grid (ROS-free).

Thermal drivers publish temperature in different ways: a linear function of the scene
temperature (Optris: degrees Celsius as (raw - 1000) / 10; FLIR TLinear: 0.01 K per count;
32FC1 drivers: Celsius or kelvin), or raw sensor counts that only the camera's Planck constants
turn into temperature (FLIR A-series over GigE). `TemperatureConversion` is one of these rules,
named by `thermal.camera` (see CAMERAS); with no camera named, `thermal.kelvin_scale` and
`thermal.kelvin_offset` give a linear rule (scale 0: not radiometric, every temperature NaN).

The raw image is brought into the RGB camera's frame (thermal.homography, or a resize when the
sizes differ) and onto the output size with nearest-neighbour sampling, so that every
temperature is one the camera measured, never a blend of an object and its background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CELSIUS_ZERO = 273.15
ENCODING_DTYPES = {"mono8": np.dtype(np.uint8), "mono16": np.dtype(np.uint16), "16UC1": np.dtype(np.uint16),
                   "32FC1": np.dtype(np.float32)}


@dataclass(frozen=True)
class TemperatureConversion:
    """Raw thermal values -> kelvin: `linear` (K = raw * scale + offset), `planck` (FLIR's
    T = B / ln(R / (raw - O) + F) with `planck` = (R, B, F, O)) or `none` (not radiometric)."""

    kind: str = "none"
    scale: float = 0.0
    offset: float = 0.0
    planck: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    encodings: tuple[str, ...] = ()  # what the camera's driver publishes ('' = any)

    @property
    def radiometric(self) -> bool:
        return self.kind != "none"

    def accepts(self, dtype: np.dtype) -> bool:
        """Whether a decoded thermal image of this dtype is in the format the conversion is for (an
        8-bit AGC image given to a 16-bit preset is not: its temperatures are NaN, never invented)."""
        return not self.encodings or np.dtype(dtype) in {ENCODING_DTYPES[e] for e in self.encodings}

    def describe(self) -> str:
        """One start-up line's worth: the rule, or why there are no temperatures."""
        if self.kind == "linear":
            return f"K = raw x {self.scale:g} + {self.offset:g}"
        if self.kind == "planck":
            return "T = B / ln(R / (raw - O) + F), [R, B, F, O] = [{:g}, {:g}, {:g}, {:g}]".format(*self.planck)
        return "not radiometric: temperatures NaN"

    def kelvin(self, raw: np.ndarray) -> np.ndarray:
        """float32 kelvin of a raw thermal array (NaN where there is no temperature)."""
        if not self.radiometric or not self.accepts(raw.dtype):
            return np.full(raw.shape, np.nan, np.float32)
        values = raw.astype(np.float64)
        if self.kind == "linear":
            return (values * self.scale + self.offset).astype(np.float32)
        r, b, f, o = self.planck
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = r / (values - o) + f
            kelvin = b / np.log(inside)
        return np.where((values > o) & (inside > 1.0), kelvin, np.nan).astype(np.float32)


# thermal.camera -> (what the driver publishes, the conversion, what it means in one line)
CAMERAS: dict[str, tuple[str, TemperatureConversion]] = {
    "optris": ("mono16 / 16UC1: deg C = (raw - 1000) / 10 (optris_drivers2)",
               TemperatureConversion("linear", 0.1, CELSIUS_ZERO - 100.0, encodings=("mono16", "16UC1"))),
    "flir_tlinear": ("mono16: K = raw x 0.01 (FLIR Boson+ / Lepton 3.5 in TLinear)",
                     TemperatureConversion("linear", 0.01, 0.0, encodings=("mono16", "16UC1"))),
    "flir_planck": ("mono16 raw counts: T = B / ln(R / (raw - O) + F) with thermal.planck: [R, B, F, O]",
                    TemperatureConversion("planck", encodings=("mono16", "16UC1"))),
    "celsius_float": ("32FC1 in deg C (seek_thermal_ROS2)",
                      TemperatureConversion("linear", 1.0, CELSIUS_ZERO, encodings=("32FC1",))),
    "kelvin_float": ("32FC1 in K", TemperatureConversion("linear", 1.0, 0.0, encodings=("32FC1",))),
    "agc": ("mono8 / mono16 after automatic gain control: not radiometric, temperatures NaN",
            TemperatureConversion("none")),
}
CAMERA_NAMES = ("", *CAMERAS)


def temperature_conversion(camera: str, kelvin_scale: float = 0.0, kelvin_offset: float = 0.0,
                           planck: tuple[float, ...] | list[float] = (0.0,)) -> TemperatureConversion:
    """The conversion a thermal.camera preset names ('' = the kelvin_scale/offset rule). ValueError
    names the parameter at fault: an unknown camera, Planck constants missing or impossible, or a
    preset combined with kelvin_scale/offset (the preset sets the conversion)."""
    if camera not in CAMERA_NAMES:
        raise ValueError(f"parameter thermal.camera={camera!r} is not a preset; choose one of {CAMERA_NAMES}")
    if not camera:
        kind = "linear" if kelvin_scale > 0 else "none"
        return TemperatureConversion(kind, kelvin_scale, kelvin_offset)
    if kelvin_scale or kelvin_offset:
        raise ValueError(f"parameter thermal.camera={camera!r} sets the temperature conversion: leave "
                         f"thermal.kelvin_scale and thermal.kelvin_offset at 0 (or thermal.camera '')")
    conversion = CAMERAS[camera][1]
    if conversion.kind != "planck":
        return conversion
    constants = tuple(float(v) for v in planck)
    if len(constants) != 4 or constants[0] <= 0 or constants[1] <= 0:
        raise ValueError(f"parameter thermal.planck={list(planck)} must be the camera's [R, B, F, O] with R > 0 and "
                         f"B > 0 (thermal.camera flir_planck; read them from the camera, e.g. its GenICam "
                         f"R/B/F/O nodes)")
    return TemperatureConversion("planck", planck=constants, encodings=conversion.encodings)


def kelvin_map(raw: np.ndarray, conversion: TemperatureConversion, rgb_size: tuple[int, int],
               output_size: tuple[int, int], homography: np.ndarray | None = None) -> np.ndarray:
    """(H_out, W_out) float32 kelvin of raw thermal (NaN where it has no finite value or the
    homography maps outside the thermal image)."""
    values = conversion.kelvin(raw)
    rgb_h, rgb_w = rgb_size
    if homography is not None:
        values = cv2.warpPerspective(values, homography, (rgb_w, rgb_h), flags=cv2.INTER_NEAREST,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    elif values.shape != (rgb_h, rgb_w):
        values = cv2.resize(values, (rgb_w, rgb_h), interpolation=cv2.INTER_NEAREST)
    out_h, out_w = output_size
    if values.shape != (out_h, out_w):
        values = cv2.resize(values, (out_w, out_h), interpolation=cv2.INTER_NEAREST)
    return values


def region_temperatures(kelvin: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, max) kelvin of each label 0..count-1 over its finite pixels (NaN for none)."""
    finite = np.isfinite(kelvin)
    flat_labels, flat = labels[finite].ravel(), kelvin[finite].ravel().astype(np.float64)
    counts = np.bincount(flat_labels, minlength=count)[:count]
    sums = np.bincount(flat_labels, weights=flat, minlength=count)[:count]
    highest = np.full(count, -np.inf)
    np.maximum.at(highest, flat_labels, flat)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
    return mean.astype(np.float32), np.where(counts > 0, highest, np.nan).astype(np.float32)
