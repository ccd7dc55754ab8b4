"""The ROS-free perception pipeline: preprocess -> SARTM / SAMSOD -> postprocess.

The node and the rosbag replay tool both run frames through `Pipeline.run`, so that what is
evaluated offline is exactly what the robot publishes. Inputs and outputs are numpy arrays.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from rgbt_models.data.geometry import InputGeometry, model_input_size, semantic_at, to_output_size
from rgbt_models.data.registration import unit_thermal_on_rgb_grid
from rgbt_models.data.thermal import StableRange, ThermalSetup, thermal_to_unit
from rgbt_models.data.thermal_freeze import FreezeDetector
from rgbt_models.evaluation.uncertainty import combined as combined_uncertainty
from rgbt_models.evaluation.uncertainty import saliency_uncertainty, sample_grid, semantic_uncertainty
from rgbt_perception.temperatures import TemperatureConversion, kelvin_map, region_temperatures


@dataclass
class PipelineConfig:
    """Pre- and post-processing settings (the node fills it from its parameters): what may change
    while the node runs. The model input size is fixed when the pipeline is built (`Pipeline`)."""

    thermal: ThermalSetup = field(default_factory=ThermalSetup)  # normalisation and polarity (data/thermal.py)
    homography: np.ndarray | None = None  # 3x3, thermal pixel -> RGB pixel
    size_mismatch: str = "resize"  # or "reject"
    output_height: int = 0  # 0: the RGB image's size
    output_width: int = 0
    saliency_threshold: float = -1.0  # < 0: adaptive (2 x mean saliency, as SOD evaluation uses)
    saliency_min_threshold: float = 0.5  # floor of the adaptive threshold: a blank map yields no object
    min_object_area: int = 20
    color_overlay: bool = True
    freeze_duration: float = 0.25  # s of identical thermal frames before they count as frozen; < 0: off
    freeze_tolerance: float = 0.0  # 0: bit-identical; else mean |difference| as a share of the value range
    freeze_policy: str = "degrade"  # degrade: a frozen frame takes the RGB-only path | fuse: only reported
    temperature: TemperatureConversion = field(default_factory=TemperatureConversion)  # raw -> K (none: NaN)


@dataclass
class ClassStat:
    class_id: int
    name: str
    pixel_fraction: float
    mean_confidence: float
    mean_temperature: float = float("nan")  # K over the class's pixels (radiometric thermal), else NaN


@dataclass
class SalientRegion:
    x: int
    y: int
    width: int
    height: int
    area: int
    mean_saliency: float
    centroid_x: float
    centroid_y: float
    mean_temperature: float = float("nan")  # K over the region (radiometric thermal), else NaN
    max_temperature: float = float("nan")


@dataclass
class PipelineResult:
    semantic_mask: np.ndarray | None = None  # (H, W) uint8 class ids
    semantic_color: np.ndarray | None = None  # (H, W, 3) uint8 overlay
    class_stats: list[ClassStat] = field(default_factory=list)
    saliency_map: np.ndarray | None = None  # (H, W) uint8 0..255
    saliency_mask: np.ndarray | None = None  # (H, W) uint8 {0, 255}
    objects: list[SalientRegion] = field(default_factory=list)
    degraded: bool = False
    thermal_frozen: bool = False  # the thermal frame was frozen (shutter / FFC), see FreezeDetector
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    # What `uncertainty` is measured from (set by Pipeline.run): the samples it reads of the models'
    # outputs on their own grid (uncertainty.sample_grid), "semantic": probabilities, "saliency":
    # (map, heads or None); dropped once measured.
    uncertainty_source: dict | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def uncertainty(self) -> dict[str, float]:
        """Label-free, in [0, 1]: "saliency" (SAMSOD), "semantic" (SARTM), "combined" (their
        mean); NaN for a model that did not run (rgbt_models.evaluation.uncertainty); {} for a
        result no pipeline made. Measured on first use, so that the node publishes the masks
        before it (its time: timings["uncertainty"])."""
        if self.uncertainty_source is None:
            return {}
        start = time.perf_counter()
        source, self.uncertainty_source = self.uncertainty_source, None
        parts = {"saliency": float("nan"), "semantic": float("nan")}
        if "semantic" in source:
            parts["semantic"] = float(semantic_uncertainty(source["semantic"])[0])
        if "saliency" in source:
            parts["saliency"] = float(saliency_uncertainty(*source["saliency"])[0])
        self.timings["uncertainty"] = time.perf_counter() - start
        return {**parts, "combined": combined_uncertainty(parts)}


def model_seconds(timings: dict[str, float]) -> float:
    """The models' part of a frame's `PipelineResult.timings`: SARTM's and SAMSOD's stages (the
    forward passes and their outputs at the output size). The node's "model median" and the
    soak's fresh-process reference both use it, so that they measure the same thing."""
    return timings.get("sartm", 0.0) + timings.get("samsod", 0.0)


class FrameRejected(ValueError):
    """A pair the pipeline refuses (e.g. different sizes with size_mismatch: reject)."""


class InferenceCancelled(RuntimeError):
    """Raised inside a model's forward pass once `Pipeline.cancel()` was called (shutdown)."""


class NonFiniteOutput(FrameRejected):
    """A model produced NaN or inf for a frame: nothing of that frame is published."""


def require_finite(output: torch.Tensor, model: str) -> None:
    if not bool(torch.isfinite(output).all()):
        raise NonFiniteOutput(f"{model} produced non-finite values (NaN/inf): frame dropped")


@dataclass(frozen=True)
class ModelInput:
    """How frames become one model's input: its geometry (recorded in its checkpoint) and size."""

    geometry: InputGeometry
    height: int
    width: int


# What a pipeline run can produce beyond the class-id mask and the saliency map, by topic name.
ALL_OUTPUTS = frozenset({"semantic/color", "semantic/classes", "saliency/mask", "saliency/objects"})


class Pipeline:
    """Runs the loaded models on one RGB(-T) frame; either model may be None (switched off).

    A model is a PyTorch SARTM / SAMSOD, or the same model as ONNX Runtime sessions
    (rgbt_models.runtime.onnx_runtime.OnnxRuntimeModel, `runtime: onnxruntime`): both answer `predict`."""

    def __init__(self, config: PipelineConfig, sartm=None, samsod=None, device: str = "cpu",
                 dtype: torch.dtype = torch.float32, model_size: tuple[int, int] = (0, 0)) -> None:
        """The models as rgbt_models.runtime.placement places them (PyTorch, int8-quantised or not, or ONNX
        Runtime sessions); model_size: (H, W) for both; (0, 0): each the size it was trained at."""
        if sartm is None and samsod is None:
            raise ValueError("the pipeline needs at least one model")
        self.inputs = {name: ModelInput(getattr(model, "input_geometry", None) or InputGeometry(),
                                        *model_input_size(model, *model_size,
                                                          source=f"{name} input size (model_height/model_width)"))
                       for name, model in (("sartm", sartm), ("samsod", samsod)) if model is not None}
        torch_models = [m for m in (sartm, samsod) if isinstance(m, torch.nn.Module)]
        self.config, self.sartm, self.samsod = config, sartm, samsod
        self.device, self.dtype = torch.device(device), dtype
        self.colors = (np.array(sartm.classes.colors, np.uint8) if sartm is not None else None)
        self.freeze = FreezeDetector()  # thermal shutter freezes, over the stamps `run` is given
        self.thermal_range = StableRange()  # the 'stable' normalisation's range, over the same stamps
        self.trained_thermal: ThermalSetup | None = None  # what the models were trained with (build_pipeline)
        # Shutdown must not wait for a whole forward pass: every module checks the flag on entry
        # (onnxruntime sessions are told to terminate by `cancel`).
        self._cancelled = threading.Event()
        for model in torch_models:
            model.to(self.device).eval()
            for module in model.modules():
                module.register_forward_pre_hook(self._check_cancelled)

    @property
    def runtime(self) -> str:
        """torch or onnxruntime: what runs the models."""
        model = self.sartm if self.sartm is not None else self.samsod
        return "torch" if isinstance(model, torch.nn.Module) else "onnxruntime"

    def cancel(self) -> None:
        """Make a running (and any later) `run` stop at its next module with InferenceCancelled."""
        self._cancelled.set()
        for model in (self.sartm, self.samsod):
            if model is not None and not isinstance(model, torch.nn.Module):
                model.cancel()

    def _check_cancelled(self, module, args) -> None:
        if self._cancelled.is_set():
            raise InferenceCancelled("the pipeline was cancelled")

    def _predict(self, model, rgb_t: torch.Tensor, thermal_t: torch.Tensor | None, method: str = "predict"):
        self._check_cancelled(None, None)
        try:
            return getattr(model, method)(rgb_t, thermal_t)
        except InferenceCancelled:
            raise
        except Exception as error:  # onnxruntime's terminate error: a cancelled run, nothing wrong
            if self._cancelled.is_set():
                raise InferenceCancelled("the pipeline was cancelled") from error
            raise

    # -- stages ------------------------------------------------------------------------------
    def preprocess(self, rgb: np.ndarray, thermal: np.ndarray | None, thermal_stamp: float | None = None,
                   model: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """RGB (H, W, 3) uint8 and raw thermal (any supported dtype) -> the input tensors of `model`
        (sartm or samsod; default: the first enabled); the thermal set-up's 'stable' normalisation
        tracks its range over `thermal_stamp`s."""
        aligned = self.align(rgb, thermal, thermal_stamp)
        return self.model_input(model or next(iter(self.inputs)), *aligned)[:2]

    def align(self, rgb: np.ndarray, thermal: np.ndarray | None, thermal_stamp: float | None = None
              ) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """(RGB, thermal in [0, 1] on the RGB image's pixel grid or None, whether thermal was 8-bit)."""
        cfg = self.config
        if thermal is None:
            return rgb, None, False
        thermal01 = unit_thermal_on_rgb_grid(thermal, cfg.thermal, cfg.homography, rgb.shape, self.thermal_range,
                                             thermal_stamp)
        if cfg.homography is None and thermal01.shape[:2] != rgb.shape[:2] and cfg.size_mismatch == "reject":
            raise FrameRejected(f"thermal {thermal01.shape[1]}x{thermal01.shape[0]} and RGB "
                                f"{rgb.shape[1]}x{rgb.shape[0]} differ (size_mismatch: reject)")
        return rgb, thermal01, thermal.dtype == np.uint8 and cfg.thermal.polarity == "white_hot"

    def model_input(self, model: str, rgb: np.ndarray, thermal01: np.ndarray | None, eight_bit: bool
                    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
        """One model's (rgb, thermal) tensors and the (h, w) the frame covers inside them."""
        spec = self.inputs[model]
        rgb_in, thermal_in, content = spec.geometry.prepare(rgb, thermal01, eight_bit, spec.height, spec.width)
        # A frame already at the model size arrives as the message's read-only buffer: torch wants
        # a writable array (np.require copies only then).
        rgb_t = torch.from_numpy(np.require(rgb_in, requirements="W")).permute(2, 0, 1)[None]
        rgb_t = rgb_t.to(self.device, self.dtype)
        if thermal_in is None:
            return rgb_t, None, content
        thermal_t = torch.from_numpy(np.require(thermal_in, requirements="W"))[None, None]
        return rgb_t, thermal_t.to(self.device, self.dtype), content

    def _thermal_state(self, thermal: np.ndarray | None, thermal_stamp: float | None
                       ) -> tuple[np.ndarray | None, bool]:
        """The shutter-freeze check of one frame: (the thermal image the models get, frozen)."""
        cfg = self.config
        frozen = (thermal is not None and thermal_stamp is not None
                  and self.freeze.update(thermal, thermal_stamp, cfg.freeze_duration, cfg.freeze_tolerance))
        return (None if frozen and cfg.freeze_policy == "degrade" else thermal), frozen

    def reset_stream_state(self) -> None:
        """Forget what was tracked over time (a new recording starts: another bag, or a shard)."""
        self.freeze = FreezeDetector()
        self.thermal_range = StableRange()

    def track(self, thermal: np.ndarray | None, thermal_stamp: float | None) -> None:
        """A frame the models skip (the lead-in of a shard of a bag): only what `run` tracks over
        time is updated (shutter freezes, the 'stable' normalisation's range), as `run` would."""
        thermal, _ = self._thermal_state(thermal, thermal_stamp)
        if thermal is not None and self.config.thermal.normalization == "stable":  # the only tracked range
            thermal_to_unit(thermal, self.config.thermal, self.thermal_range, thermal_stamp)

    def run(self, rgb: np.ndarray, thermal: np.ndarray | None, outputs: frozenset[str] = ALL_OUTPUTS,
            thermal_stamp: float | None = None) -> PipelineResult:
        """One frame through every enabled model. Without thermal, only SAMSOD's RGB-only
        head runs (degraded mode) and SARTM pauses. `outputs` names the results wanted (the node
        passes the topics somebody subscribes to); the class-id mask and saliency map are always
        made, the overlay, class statistics, binary mask and objects only when wanted.
        thermal_stamp (s): the thermal frame's stamp, for what is tracked over time (shutter
        freezes: a frozen frame takes the RGB-only path unless freeze_policy is fuse); None for
        frames without a time (still images)."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        cfg = self.config
        thermal, frozen = self._thermal_state(thermal, thermal_stamp)
        aligned = self.align(rgb, thermal, thermal_stamp)
        prepared: dict[ModelInput, tuple] = {}  # models with the same geometry and size share one
        inputs = {name: prepared.get(spec) or prepared.setdefault(spec, self.model_input(name, *aligned))
                  for name, spec in self.inputs.items()}
        timings["preprocess"] = time.perf_counter() - start
        out_h = self.config.output_height or rgb.shape[0]
        out_w = self.config.output_width or rgb.shape[1]
        result = PipelineResult(degraded=thermal is None, thermal_frozen=frozen, timings=timings)
        source: dict = {}
        kelvin = None
        if cfg.temperature.radiometric and thermal is not None and {"semantic/classes", "saliency/objects"} & outputs:
            kelvin = kelvin_map(thermal, cfg.temperature, rgb.shape[:2], (out_h, out_w), cfg.homography)
        autocast = torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
        with torch.inference_mode(), autocast:
            if self.sartm is not None and thermal is not None:
                t0 = time.perf_counter()
                rgb_t, thermal_t, (h, w) = inputs["sartm"]
                _, probabilities = self._predict(self.sartm, rgb_t, thermal_t)
                require_finite(probabilities, "SARTM")
                ids, confidence = semantic_at(probabilities[..., :h, :w], out_h, out_w)
                timings["sartm"] = time.perf_counter() - t0
                source["semantic"] = sample_grid(probabilities[..., :h, :w])
                t0 = time.perf_counter()
                self._semantic_outputs(result, ids[0].cpu().numpy().astype(np.uint8), confidence[0].cpu().numpy(),
                                       outputs, kelvin)
                timings["postprocess_semantic"] = time.perf_counter() - t0
            if self.samsod is not None:
                t0 = time.perf_counter()
                rgb_t, thermal_t, (h, w) = inputs["samsod"]
                heads = None  # a PyTorch SAMSOD gives its heads with the map; ONNX Runtime graphs the map alone
                if hasattr(self.samsod, "predict_with_heads"):
                    saliency, heads = self._predict(self.samsod, rgb_t, thermal_t, "predict_with_heads")
                else:
                    saliency = self._predict(self.samsod, rgb_t, thermal_t)
                require_finite(saliency, "SAMSOD")
                source["saliency"] = (sample_grid(saliency[..., :h, :w]),
                                      heads and {k: sample_grid(v[..., :h, :w]) for k, v in heads.items()})
                saliency = to_output_size(saliency[..., :h, :w], out_h, out_w)
                timings["samsod"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                self._saliency_outputs(result, saliency[0, 0].cpu().numpy(), outputs, kelvin)
                timings["postprocess_saliency"] = time.perf_counter() - t0
        result.uncertainty_source = source
        timings["total"] = time.perf_counter() - start
        return result

    # -- postprocessing ------------------------------------------------------------------------
    def _semantic_outputs(self, result: PipelineResult, ids: np.ndarray, confidence: np.ndarray,
                          wanted: frozenset[str] = ALL_OUTPUTS, kelvin: np.ndarray | None = None) -> None:
        result.semantic_mask = ids
        if self.config.color_overlay and "semantic/color" in wanted:
            result.semantic_color = self.colors[ids]
        if "semantic/classes" not in wanted:
            return
        counts = np.bincount(ids.ravel(), minlength=len(self.colors))
        sums = np.bincount(ids.ravel(), weights=confidence.ravel(), minlength=len(self.colors))
        names = self.sartm.classes.names
        temperatures = (region_temperatures(kelvin, ids, len(self.colors))[0] if kelvin is not None
                        else np.full(len(self.colors), np.nan, np.float32))
        result.class_stats = [ClassStat(int(c), names[c], float(counts[c] / ids.size), float(sums[c] / counts[c]),
                                        float(temperatures[c])) for c in np.flatnonzero(counts)]

    def _saliency_outputs(self, result: PipelineResult, saliency: np.ndarray,
                          wanted: frozenset[str] = ALL_OUTPUTS, kelvin: np.ndarray | None = None) -> None:
        saliency = np.clip(saliency, 0.0, 1.0)
        result.saliency_map = (saliency * 255 + 0.5).astype(np.uint8)
        if not {"saliency/mask", "saliency/objects"} & wanted:
            return
        binary = saliency_mask(saliency, self.config.saliency_threshold, self.config.saliency_min_threshold)
        result.saliency_mask = binary * 255
        if "saliency/objects" in wanted:
            result.objects.extend(salient_regions(saliency, binary, self.config.min_object_area, kelvin))


def saliency_mask(saliency: np.ndarray, threshold: float, floor: float) -> np.ndarray:
    """The salient pixels (uint8 0 / 1) of a map in [0, 1]: those at or above `threshold`; a
    negative threshold adapts to the map (twice its mean, as SOD evaluation does, at least `floor`,
    so that a blank map yields none)."""
    if threshold < 0:
        threshold = max(min(2 * float(saliency.mean()), 1.0), floor)
    return (saliency >= threshold).astype(np.uint8)


def salient_regions(saliency: np.ndarray, binary: np.ndarray, min_area: int,
                    kelvin: np.ndarray | None = None) -> list[SalientRegion]:
    """The 8-connected regions of `binary` of at least `min_area` pixels, each with its box, area,
    mean saliency, centroid and (given `kelvin`, the scene in K) mean and highest temperature."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    # One pass over the pixels for every component's mean saliency.
    sums = np.bincount(labels.ravel(), weights=saliency.ravel(), minlength=count)
    means, highest = (region_temperatures(kelvin, labels, count) if kelvin is not None
                      else (np.full(count, np.nan, np.float32),) * 2)
    regions = []
    for index in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area):
        if index == 0:  # the background
            continue
        x, y, w, h, area = (int(v) for v in stats[index])
        regions.append(SalientRegion(x, y, w, h, area, float(sums[index] / area), float(centroids[index][0]),
                                     float(centroids[index][1]), float(means[index]), float(highest[index])))
    return regions
