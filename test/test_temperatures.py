"""Temperatures by thermal camera (rgbt_perception/temperatures.py, `thermal.camera`): a scene of
known temperatures, published the way each driver publishes it (encoding, row step, byte order,
its own formula), decoded as the node decodes it and turned into kelvin by the preset.

Drivers and their formats: docs/thermal_cameras.md. The scene: a 22 C background with a
37 C person and a 60 C engine block, plus a 1 K ramp so that no two columns are alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rgbt_models.data.image_codec import decode_thermal
from rgbt_perception.parameters import PARAMETERS, load_parameter_file, pipeline_config
from rgbt_perception.temperatures import CAMERAS, CELSIUS_ZERO, TemperatureConversion, kelvin_map

HEIGHT, WIDTH = 48, 64
PLANCK = (366545.0, 1428.0, 1.0, -342.0)  # R, B, F, O of a FLIR A-series camera (the order of thermal.planck)


def scene_kelvin() -> np.ndarray:
    kelvin = np.full((HEIGHT, WIDTH), CELSIUS_ZERO + 22.0) + np.linspace(0.0, 1.0, WIDTH)[None, :]
    kelvin[10:40, 8:20] = CELSIUS_ZERO + 37.0  # a person
    kelvin[30:44, 40:60] = CELSIUS_ZERO + 60.0  # a warm engine
    return kelvin


def image(data: np.ndarray, encoding: str, step: int | None = None, big_endian: bool = False):
    """sensor_msgs/Image as a driver fills it: rows of `step` bytes (padding zeroed), its byte order."""
    from sensor_msgs.msg import Image

    data = data.astype(data.dtype.newbyteorder(">" if big_endian else "<"))
    row = data.shape[1] * data.dtype.itemsize
    step = step or row
    padded = np.zeros((data.shape[0], step), np.uint8)
    padded[:, :row] = np.ascontiguousarray(data).view(np.uint8).reshape(data.shape[0], row)
    return Image(height=data.shape[0], width=data.shape[1], encoding=encoding, is_bigendian=int(big_endian),
                 step=step, data=padded.tobytes())


def planck_counts(kelvin: np.ndarray) -> np.ndarray:
    r, b, f, o = PLANCK
    return np.round(r / (np.exp(b / kelvin) - f) + o).astype(np.uint16)


# driver -> (thermal.camera, the message it publishes of the scene)
DRIVERS = {
    "optris_drivers2": ("optris", lambda k: image(np.round((k - CELSIUS_ZERO) * 10 + 1000).astype(np.uint16),
                                                  "mono16")),
    "flir_boson_tlinear": ("flir_tlinear", lambda k: image(np.round(k * 100).astype(np.uint16), "mono16")),
    "spinnaker_tlinear_padded_rows": ("flir_tlinear", lambda k: image(np.round(k * 100).astype(np.uint16), "mono16",
                                                                      step=2 * WIDTH + 64)),
    "flir_gige_planck": ("flir_planck", lambda k: image(planck_counts(k), "mono16")),
    "flir_gige_planck_big_endian": ("flir_planck", lambda k: image(planck_counts(k), "16UC1", big_endian=True)),
    "seek_thermal_ros2": ("celsius_float", lambda k: image((k - CELSIUS_ZERO).astype(np.float32), "32FC1")),
    "depthai_oak_t_temperature": ("celsius_float", lambda k: image((k - CELSIUS_ZERO).astype(np.float32), "32FC1")),
    "kelvin_32fc1": ("kelvin_float", lambda k: image(k.astype(np.float32), "32FC1")),
}


def parameters(**given) -> dict:
    values = {name: spec[0] for name, spec in PARAMETERS.items()} | {"samsod.checkpoint": "s.pt"}
    return values | given


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_each_preset_gives_the_scene_temperature_on_its_drivers_format(driver):
    camera, publish = DRIVERS[driver]
    truth = scene_kelvin()
    config = pipeline_config(parameters(**{"thermal.camera": camera, "thermal.planck": list(PLANCK)}))
    raw = decode_thermal(publish(truth))
    kelvin = kelvin_map(raw, config.temperature, (HEIGHT, WIDTH), (HEIGHT, WIDTH))
    assert np.abs(kelvin - truth).max() <= 0.5
    for region in (np.s_[10:40, 8:20], np.s_[30:44, 40:60]):
        assert abs(float(kelvin[region].mean()) - float(truth[region].mean())) <= 0.5


def test_agc_video_is_not_radiometric_and_gives_nan():
    agc = image(np.clip((scene_kelvin() - 290) * 6, 0, 255).astype(np.uint8), "mono8")  # flir_boson_usb
    config = pipeline_config(parameters(**{"thermal.camera": "agc"}))
    assert not config.temperature.radiometric
    assert np.isnan(kelvin_map(decode_thermal(agc), config.temperature, (HEIGHT, WIDTH), (HEIGHT, WIDTH))).all()
    assert config.temperature.describe() == "not radiometric: temperatures NaN"


def test_a_16_bit_preset_given_8_bit_video_gives_nan_not_invented_temperatures():
    config = pipeline_config(parameters(**{"thermal.camera": "optris"}))
    raw = decode_thermal(image(np.full((HEIGHT, WIDTH), 200, np.uint8), "mono8"))
    assert np.isnan(kelvin_map(raw, config.temperature, (HEIGHT, WIDTH), (HEIGHT, WIDTH))).all()


def test_no_camera_keeps_the_scale_and_offset_rule():
    config = pipeline_config(parameters(**{"thermal.kelvin_scale": 0.1, "thermal.kelvin_offset": 173.15}))
    assert config.temperature == TemperatureConversion("linear", 0.1, 173.15)
    assert config.temperature.kelvin(np.array([1220], np.uint16))[0] == pytest.approx(CELSIUS_ZERO + 22.0, abs=1e-3)
    assert not pipeline_config(parameters()).temperature.radiometric


def test_planck_counts_outside_the_formula_are_nan():
    conversion = pipeline_config(parameters(**{"thermal.camera": "flir_planck",
                                               "thermal.planck": list(PLANCK)})).temperature
    kelvin = conversion.kelvin(np.array([0, 2586, 65535], np.uint16))
    assert math.isfinite(kelvin[1]) and abs(kelvin[1] - 295.15) < 0.05
    assert np.isfinite(kelvin[[0, 2]]).all()  # raw above O: inside the formula
    below = TemperatureConversion("planck", planck=(366545.0, 1428.0, 1.0, 100.0)).kelvin(np.array([50], np.uint16))
    assert np.isnan(below).all()  # raw below O: no temperature


@pytest.mark.parametrize(("given", "message"), [
    ({"thermal.camera": "flir_planck"}, "thermal.planck=[0.0] must be the camera's [R, B, F, O]"),
    ({"thermal.camera": "flir_planck", "thermal.planck": [1.0, 2.0]}, "thermal.planck=[1.0, 2.0]"),
    ({"thermal.camera": "optris", "thermal.kelvin_scale": 0.01}, "leave thermal.kelvin_scale"),
    ({"thermal.camera": "lepton"}, "thermal.camera='lepton' is not allowed"),
])
def test_a_wrong_camera_set_up_is_refused_naming_the_parameter(tmp_path, given, message):
    import yaml

    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"rgbt_perception": {"ros__parameters": {"samsod.checkpoint": "s.pt", **given}}}))
    with pytest.raises(ValueError, match="p.yaml: .*" + message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        load_parameter_file(params)


def test_every_preset_is_documented_with_its_formula():
    from rgbt_perception.testing.ros_harness import REPO_ROOT

    guide = (REPO_ROOT / "docs" / "thermal_cameras.md").read_text()
    for camera in CAMERAS:
        assert f"`{camera}`" in guide
    for driver in ("optris_drivers2", "flir_camera_driver", "flir_boson_usb", "seek_thermal_ROS2", "flir_gige",
                   "depthai-ros"):
        assert driver in guide


def test_the_start_up_lines_say_which_models_run_where_they_were_loaded_from_and_the_temperatures(
        tmp_path, monkeypatch):
    from rgbt_perception.model_loading import build_pipeline
    from rgbt_perception.testing.node_fixtures import write_test_checkpoints

    write_test_checkpoints(tmp_path)
    monkeypatch.chdir(tmp_path)
    lines = []
    values = parameters(**{"samsod.checkpoint": "b.pt", "thermal.camera": "agc", "threads": 1})
    pipeline = build_pipeline(values, lines.append)
    assert pipeline.samsod is not None and pipeline.sartm is None
    assert "models: sartm off (no sartm.checkpoint), samsod on (samsod.checkpoint given)" in lines
    assert f"samsod: loaded {tmp_path / 'b.pt'}" in lines
    assert "temperatures: thermal.camera agc: not radiometric: temperatures NaN" in lines
    assert any(line.startswith("registration: none (thermal.homography [0.0]") for line in lines)
