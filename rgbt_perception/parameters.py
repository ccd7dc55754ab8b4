"""The node's parameters (names, defaults, ranges, descriptors) and what they mean for the pipeline.

One table for the node (which declares them) and the replay tool (which reads the same YAML
file), so that they cannot disagree; ROS is imported only to build a descriptor.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path

from rgbt_models.config import load_yaml
from rgbt_models.data.geometry import nearest_multiple
from rgbt_models.data.pairing import SYNC_POLICIES
from rgbt_models.data.registration import homography_matrix
from rgbt_models.data.thermal import POLARITIES, THERMAL_NORMALIZATIONS, ThermalSetup, trained_setup_with
from rgbt_models.data.thermal_freeze import FREEZE_POLICIES
from rgbt_models.runtime.devices import DEFAULT_PROVIDERS, DEVICES, PRECISIONS, RUNTIMES
from rgbt_perception.pipeline import PipelineConfig
from rgbt_perception.temperatures import CAMERA_NAMES, temperature_conversion

NODE_NAME = "rgbt_perception"
TRANSPORTS = ("raw", "compressed")
MODEL_SWITCHES = ("auto", "true", "false")  # samsod.enabled / sartm.enabled (a YAML true / false is taken too)
MODELS = ("sartm", "samsod")

# name: (default, description, choices or (min, max) or None)
PARAMETERS: dict[str, tuple[object, str, object]] = {
    "sartm.enabled": ("auto", "run SARTM semantic segmentation: auto = when sartm.checkpoint is given | true "
                      "(refuses to start without a checkpoint) | false", MODEL_SWITCHES),
    "sartm.checkpoint": ("", "SARTM checkpoint (rgbt-train, rgbt-import); a relative path is taken from the folder "
                         "the node was started in", None),
    "sartm.config": ("", "model config YAML used only with allow_untrained (tests)", None),
    "samsod.enabled": ("auto", "run SAMSOD salient object detection: auto = when samsod.checkpoint is given | "
                       "true (refuses to start without a checkpoint) | false", MODEL_SWITCHES),
    "samsod.checkpoint": ("", "SAMSOD checkpoint (rgbt-train, rgbt-adapt, rgbt-import); a relative path is taken "
                          "from the folder the node was started in", None),
    "samsod.config": ("", "model config YAML used only with allow_untrained (tests)", None),
    "allow_untrained": (False, "start with random weights when no checkpoint is given (tests only)", None),
    "device": ("auto", "inference device", DEVICES),
    "precision": ("fp32", "fp32 | fp16, bf16 (CUDA) | int8 (CPU: dynamically quantised Linear layers)", PRECISIONS),
    "runtime": ("torch", "what runs the models: torch (PyTorch) | onnxruntime (graphs exported from the checkpoints "
                "at the first start, cached in onnxruntime.cache_dir)", RUNTIMES),
    "onnxruntime.providers": (list(DEFAULT_PROVIDERS), "runtime: onnxruntime: execution providers in order of "
                              "preference; one not in this onnxruntime build is skipped with a start-up line", None),
    "onnxruntime.cache_dir": ("", "runtime: onnxruntime: folder of the exported graphs and TensorRT engines; "
                              "'' = $RGBT_ONNX_CACHE, else ~/.cache/rgbt_perception/onnxruntime of the node's user "
                              "(rgbt-export --cache-dir: the same folder)", None),
    "threads": (0, "CPU threads for inference (intra-op); 0 = auto: half the CPUs, at least 1", (0, 1024)),
    "model_height": (0, "model input height (multiple of 32); 0 = the size the checkpoints were trained at",
                     (0, 2048)),
    "model_width": (0, "model input width (multiple of 32); 0 = the size the checkpoints were trained at", (0, 2048)),
    "rgb.transport": ("raw", "raw: sensor_msgs/Image on rgb/image | compressed: sensor_msgs/CompressedImage "
                      "on rgb/image/compressed (jpeg or png, as image_transport publishes it)", TRANSPORTS),
    "thermal.transport": ("raw", "raw: sensor_msgs/Image on thermal/image | compressed: CompressedImage on "
                          "thermal/image/compressed (png, 16-bit kept)", TRANSPORTS),
    "qos.reliability": ("best_effort", "camera subscription reliability; match the camera driver",
                        ("best_effort", "reliable")),
    "qos.depth": (5, "camera subscription queue depth", (1, 100)),
    "sync.policy": ("exact", "exact: pairs within sync.slop (approximate time) | latest: each RGB frame with the "
                    "newest thermal frame within sync.max_age (a thermal camera slower than the RGB one)",
                    SYNC_POLICIES),
    "sync.slop": (0.05, "max stamp difference of an RGB-thermal pair (s), sync.policy exact", (0.0, 1.0)),
    "sync.max_age": (0.15, "sync.policy latest: max stamp difference between an RGB frame and the thermal frame "
                     "it is paired with (s)", (0.0, 10.0)),
    "sync.queue_size": (10, "messages kept per stream while pairing", (1, 1000)),
    "thermal.normalization": ("", "16-bit / float thermal to [0, 1]: '' = the set-up the checkpoints were trained "
                              "with (recorded in them; minmax for older ones) | fixed | minmax | percentile | stable",
                              ("", *THERMAL_NORMALIZATIONS)),
    "thermal.polarity": ("", "'' = the checkpoints' | white_hot | black_hot (a camera showing warm objects dark: "
                         "inverted for the models)", ("", *POLARITIES)),
    "thermal.camera": ("", "the thermal camera's temperature format (docs/thermal_cameras.md): optris | "
                       "flir_tlinear | flir_planck | celsius_float | kelvin_float | agc (not radiometric) | '' = "
                       "thermal.kelvin_scale/offset", CAMERA_NAMES),
    "thermal.planck": ([0.0], "thermal.camera flir_planck: the camera's [R, B, F, O]; T = B / ln(R / (raw - O) + F)",
                       None),
    "thermal.kelvin_scale": (0.0, "thermal.camera '': K = raw * kelvin_scale + kelvin_offset; 0 = not "
                             "radiometric, temperatures NaN", (0.0, 1000.0)),
    "thermal.kelvin_offset": (0.0, "see thermal.kelvin_scale (e.g. 273.15 for a camera reporting Celsius)",
                              (-1000.0, 1000.0)),
    "thermal.time_constant": (2.0, "stable normalisation: time constant of the tracked percentile range (s)",
                              (0.01, 600.0)),
    "thermal.range_min": (0.0, "low end of the fixed normalisation range", None),
    "thermal.range_max": (65535.0, "high end of the fixed normalisation range", None),
    "thermal.percentile_low": (1.0, "low percentile of the percentile normalisation", (0.0, 100.0)),
    "thermal.percentile_high": (99.0, "high percentile of the percentile normalisation", (0.0, 100.0)),
    "thermal.timeout": (1.0, "thermal silent this long (s; the bag's clock with use_sim_time) -> degraded mode",
                        (0.05, 60.0)),
    "thermal.freeze_duration": (0.25, "identical thermal frames for longer than this (s) are frozen (shutter / "
                                "FFC); -1 = no detection", (-1.0, 60.0)),
    "thermal.freeze_tolerance": (0.0, "0: frozen frames are bit-identical; else the largest mean |difference| "
                                 "between frames, as a share of the frame's value range", (0.0, 1.0)),
    "thermal.freeze_policy": ("degrade", "frozen thermal: degrade (SAMSOD's RGB-only head, SARTM paused) | fuse "
                              "(used anyway, only reported)", FREEZE_POLICIES),
    "thermal.homography": ([0.0], "3x3 row-major thermal->RGB homography; [0.0] = none", None),
    "size_mismatch": ("resize", "RGB and thermal of different sizes", ("resize", "reject")),
    "max_image_pixels": (16_000_000, "larger images are rejected", (1, 1_000_000_000)),
    "output.height": (0, "output height; 0 = the RGB image's", (0, 8192)),
    "output.width": (0, "output width; 0 = the RGB image's", (0, 8192)),
    "output.color_overlay": (True, "publish semantic/color", None),
    "output.overlay_rate": (0.0, "debug/overlay panels (RGB | thermal | classes | saliency) per second, only while "
                            "subscribed; 0 = off (no publisher)", (0.0, 30.0)),
    "saliency.threshold": (-1.0, "pixels at or above it are salient; < 0 = adaptive (2 x mean)", (-1.0, 1.0)),
    "saliency.min_threshold": (0.5, "floor of the adaptive threshold: a blank map yields no object", (0.0, 1.0)),
    "saliency.min_object_area": (20, "smallest salient region reported (pixels)", (0, 10_000_000)),
    "uncertainty.warn": (0.3, "/diagnostics says WARN while the median label-free uncertainty of the frames since "
                         "the last report is above this (docs/mining.md)", (0.0, 1.0)),
    "diagnostics_period": (1.0, "period of /diagnostics (s)", (0.1, 60.0)),
}



# What may change while the node runs (`ros2 param set`): applied from the next frame on, checked
# as at start-up. Everything else (models, device, threads, model size, QoS, transports, queue
# sizes, diagnostics period) is read-only: it is fixed when the node is built.
RUNTIME_PARAMETERS = frozenset({
    "sync.slop", "sync.max_age", "thermal.freeze_duration", "thermal.freeze_tolerance", "thermal.freeze_policy",
    "thermal.normalization", "thermal.polarity", "thermal.time_constant", "thermal.camera", "thermal.planck",
    "thermal.kelvin_scale",
    "thermal.kelvin_offset", "thermal.range_min", "thermal.range_max", "thermal.percentile_low",
    "thermal.percentile_high", "thermal.timeout", "thermal.homography", "size_mismatch", "max_image_pixels",
    "output.height", "output.width", "output.color_overlay", "saliency.threshold", "saliency.min_threshold",
    "saliency.min_object_area", "uncertainty.warn"})


def descriptor(name: str):
    """The rcl_interfaces ParameterDescriptor of a parameter: its description, read-only unless a
    runtime parameter, and its range or choices (what `ros2 param describe` shows)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    default, description, constraint = PARAMETERS[name]
    result = ParameterDescriptor(description=description, read_only=name not in RUNTIME_PARAMETERS)
    if constraint is MODEL_SWITCHES:
        result.dynamic_typing = True  # `samsod.enabled: true` in a YAML file is a bool
    if isinstance(constraint, tuple) and len(constraint) == 2 and not isinstance(constraint[0], str):
        low, high = constraint
        if isinstance(default, int) and not isinstance(default, bool):
            result.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
        else:
            result.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    elif isinstance(constraint, tuple):
        result.additional_constraints = f"one of {', '.join(constraint)}"
    return result


def declare_parameters(node) -> dict:
    """Declare every parameter on an rclpy node with its descriptor; the values, checked.

    Overrides (--params-file, -p, parameter_overrides) of names the node does not have would be
    dropped silently by rclpy: they are refused, naming the nearest valid one (rclpy keeps them
    in Node._parameter_overrides on Humble, Jazzy and Kilted alike). A value of the wrong type is
    a ValueError naming the parameter and the expected type."""
    from rclpy.exceptions import InvalidParameterTypeException

    overrides = getattr(node, "_parameter_overrides", {})
    check_unknown(set(overrides) - {"use_sim_time"}, "parameter")
    values = {}
    for name, (default, _, _) in PARAMETERS.items():
        try:
            values[name] = node.declare_parameter(name, default, descriptor(name)).value
            if PARAMETERS[name][2] is MODEL_SWITCHES:
                check_type(name, values[name])  # dynamically typed: checked here
        except InvalidParameterTypeException as error:
            given = overrides[name].value if name in overrides else None
            raise ValueError(f"parameter {name}={given!r} has the wrong type: expected {type(default).__name__} "
                             f"(e.g. {default!r})") from error
    check_parameters(values)
    return values


def check_unknown(names, source: str) -> None:
    """ValueError for names that are not parameters of the node, with the nearest valid name."""
    unknown = sorted(set(names) - set(PARAMETERS))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, PARAMETERS, n=1)
            hints.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError(f"unknown {source}(s): {', '.join(hints)}")


def check_parameters(values: dict) -> None:
    """Checks across parameters and those a descriptor cannot express; ValueError names the parameter."""
    for name, (_, _, constraint) in PARAMETERS.items():
        value = model_switch(values[name]) if constraint is MODEL_SWITCHES else values[name]
        if isinstance(constraint, tuple) and isinstance(constraint[0], str) and value not in constraint:
            raise ValueError(f"parameter {name}={values[name]!r} is not allowed; choose one of {constraint}")
        if isinstance(constraint, tuple) and not isinstance(constraint[0], str):
            low, high = constraint
            if not low <= values[name] <= high:
                raise ValueError(f"parameter {name}={values[name]} is outside [{low}, {high}]")
    for name in ("model_height", "model_width"):
        if values[name] % 32:
            raise ValueError(f"parameter {name}={values[name]} must be a multiple of 32 (0: the checkpoints' "
                             f"trained size); use {nearest_multiple(values[name])}")
    if (values["model_height"] == 0) != (values["model_width"] == 0):
        raise ValueError("parameters model_height and model_width: set both, or both 0 (the trained size)")
    for name, value in values.items():
        numbers = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "array" else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            raise ValueError(f"parameter {name}={list(numbers) if len(numbers) > 1 else value} must be finite")
    homography_matrix(values["thermal.homography"], "parameter thermal.homography")
    if values["thermal.range_min"] >= values["thermal.range_max"]:
        raise ValueError(f"parameter thermal.range_min={values['thermal.range_min']} must be below "
                         f"thermal.range_max={values['thermal.range_max']}")
    if (values["output.height"] == 0) != (values["output.width"] == 0):
        raise ValueError("parameters output.height and output.width: set both, or both 0 (the RGB image's size)")
    if values["thermal.percentile_low"] >= values["thermal.percentile_high"]:
        raise ValueError("parameter thermal.percentile_low must be below thermal.percentile_high")
    if not list(values["onnxruntime.providers"]):
        raise ValueError("parameter onnxruntime.providers is empty: name at least CPUExecutionProvider")
    temperature_conversion(values["thermal.camera"], values["thermal.kelvin_scale"], values["thermal.kelvin_offset"],
                           values["thermal.planck"])


def model_switch(value) -> str:
    """samsod.enabled / sartm.enabled as one of MODEL_SWITCHES (a YAML bool is taken as its word)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def enabled_models(values: dict) -> dict[str, str]:
    """{model: why it runs} for the models that run: `true`, or `auto` with a checkpoint (or, with
    allow_untrained, a model config; tests only)."""
    running = {}
    for kind in MODELS:
        switch = model_switch(values[f"{kind}.enabled"])
        if switch == "true":
            running[kind] = f"{kind}.enabled: true"
        elif switch == "auto" and values[f"{kind}.checkpoint"]:
            running[kind] = f"{kind}.checkpoint given"
        elif switch == "auto" and values["allow_untrained"] and values[f"{kind}.config"]:
            running[kind] = f"{kind}.config given (allow_untrained)"
    return running


NO_MODEL = ("no model to run: give samsod.checkpoint and/or sartm.checkpoint (launch arguments "
            "samsod_checkpoint:= / sartm_checkpoint:=)")


def models_line(values: dict, running: dict[str, str]) -> str:
    """One start-up line: which models run and why (`running`: enabled_models'), which do not and
    why not."""
    parts = [f"{kind} on ({running[kind]})" if kind in running else
             f"{kind} off ({kind}.enabled: false)" if model_switch(values[f"{kind}.enabled"]) == "false" else
             f"{kind} off (no {kind}.checkpoint)" for kind in MODELS]
    return "models: " + ", ".join(parts)


def check_type(name: str, value) -> None:
    """The same type rule as the node's declared parameters: a value of the default's type
    (an integer where a float belongs is accepted)."""
    default, _, constraint = PARAMETERS[name]
    if constraint is MODEL_SWITCHES:
        if model_switch(value) not in MODEL_SWITCHES or not isinstance(value, bool | str):
            raise ValueError(f"parameter {name}={value!r} is not allowed; choose one of {MODEL_SWITCHES}")
        return
    expected = type(default)
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if expected is list:
        item = str if isinstance(default[0], str) else int | float
        ok = isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    if not ok:
        raise ValueError(f"parameter {name}={value!r} has the wrong type: expected {expected.__name__} "
                         f"(e.g. {default!r})")


def checked_values(defaults: dict, given: dict, overrides: dict) -> dict:
    """`defaults` (not changed) updated with a params file's `given` and then `overrides`, each
    name, type and range checked; ValueError naming the first problem."""
    values = dict(defaults)
    check_unknown(set(given) - {"use_sim_time"}, "parameter")
    check_unknown(overrides, "parameter")
    for name, value in {**given, **overrides}.items():
        if name in PARAMETERS:
            check_type(name, value)
    values.update({k: v for k, v in given.items() if k in PARAMETERS})
    values.update(overrides)
    check_parameters(values)
    return values


def load_parameter_file(path: str | Path | None, overrides: dict | None = None) -> dict:
    """Defaults, then the node's section of a --params-file YAML (None: none), then overrides; checked."""
    defaults = {name: spec[0] for name, spec in PARAMETERS.items()}
    content = load_yaml(path) if path is not None else {}  # the project's one YAML reader: a missing
    # or broken file is named
    section = next((v for k, v in content.items() if k.strip("/").split("/")[-1] in (NODE_NAME, "**")), {})
    given = dict((section or {}).get("ros__parameters", {}))
    overrides = overrides or {}
    try:
        return checked_values(defaults, given, overrides)
    except ValueError as error:
        # name where the bad value came from: the file when it fails alone, else the -p overrides
        try:
            checked_values(defaults, given, {})
            source = "-p"
        except ValueError:
            source = str(path)
        raise ValueError(f"{source}: {error}") from error


def thermal_setup(values: dict, trained: ThermalSetup | None = None) -> ThermalSetup:
    """The thermal set-up the parameters ask for: thermal.normalization '' keeps the whole set-up
    the checkpoints were trained with (`trained`), anything else brings the parameters' range,
    percentiles and time constant with it; thermal.polarity '' keeps the checkpoints' polarity."""
    given = {}
    if values["thermal.normalization"]:
        given = {"normalization": values["thermal.normalization"],
                 "range": (values["thermal.range_min"], values["thermal.range_max"]),
                 "percentiles": (values["thermal.percentile_low"], values["thermal.percentile_high"]),
                 "time_constant": values["thermal.time_constant"]}
    return trained_setup_with(trained, **given, polarity=values["thermal.polarity"] or None)


def pipeline_config(values: dict, trained: ThermalSetup | None = None) -> PipelineConfig:
    """The pipeline's settings from the parameters; `trained`: the checkpoints' thermal set-up."""
    return PipelineConfig(
        thermal=thermal_setup(values, trained),
        homography=homography_matrix(values["thermal.homography"], "parameter thermal.homography"),
        size_mismatch=values["size_mismatch"], output_height=values["output.height"],
        output_width=values["output.width"], saliency_threshold=values["saliency.threshold"],
        saliency_min_threshold=values["saliency.min_threshold"],
        min_object_area=values["saliency.min_object_area"], color_overlay=values["output.color_overlay"],
        freeze_duration=values["thermal.freeze_duration"], freeze_tolerance=values["thermal.freeze_tolerance"],
        freeze_policy=values["thermal.freeze_policy"],
        temperature=temperature_conversion(values["thermal.camera"], values["thermal.kelvin_scale"],
                                           values["thermal.kelvin_offset"], values["thermal.planck"]))
