"""runtime: onnxruntime: the graphs against PyTorch, their cache, the provider fallback, and the
same numbers through the pipeline, rgbt-replay, rgbt-eval and the node.

Tolerances (test-size models, random weights, seeded): fp32 graphs within 1e-5 of PyTorch fp32
(float rounding: measured 9e-8); int8 graphs within 0.01 of PyTorch fp32 (measured 1.4e-3;
PyTorch's own int8 path differs from its fp32 by up to 5e-3 on the same inputs)."""

from __future__ import annotations

import json
import shutil
import signal

import numpy as np
import pytest
import torch

from rgbt_models.runtime import load_model
from rgbt_models.runtime.loading import ModelLoadError, untrained_model
from rgbt_models.runtime.onnx_runtime import OnnxRuntimeModel
from rgbt_perception.model_loading import build_pipeline
from rgbt_perception.parameters import PARAMETERS
from rgbt_perception.pipeline import InferenceCancelled
from rgbt_perception.testing.node_fixtures import write_test_checkpoints

TOLERANCE = {"fp32": 1e-5, "int8": 0.01}
HEIGHT, WIDTH = 128, 160  # the test checkpoints' size (every graph below is built once, then cached)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """The test checkpoints as node parameters, and the models they hold."""
    params = write_test_checkpoints(tmp_path_factory.mktemp("checkpoints"))
    paths = {kind: params[i + 1].split(":=")[1] for i, kind in ((0, "sartm"), (2, "samsod"))}
    return params, {kind: load_model(None, path) for kind, path in paths.items()}, paths


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


def build(model, cache, precision="fp32", providers=("CPUExecutionProvider",), lines=None, height=HEIGHT):
    return OnnxRuntimeModel.build(model, height, WIDTH, precision, providers, "auto", cache, threads=1,
                                  log=(lines.append if lines is not None else lambda line: None))


def outputs(model, rgb, thermal):
    out = model.predict(rgb, thermal)
    return out if model.kind == "samsod" else out[1]


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("kind", ["samsod", "sartm"])
def test_onnxruntime_matches_pytorch_with_and_without_thermal(checkpoints, cache, kind, precision):
    """Every path the pipeline runs: both models with thermal; SAMSOD's RGB-only head and SARTM
    with thermal blanked (rgbt-replay --compare-without-thermal) without it."""
    model = checkpoints[1][kind]
    runner = build(model, cache, precision)
    assert runner.precision == precision and runner.providers[0] == "CPUExecutionProvider"
    generator = torch.Generator().manual_seed(3)
    for _ in range(2):
        rgb = torch.rand(2, 3, HEIGHT, WIDTH, generator=generator)  # a batch of 2: run frame by frame
        thermal = torch.rand(2, 1, HEIGHT, WIDTH, generator=generator)
        for thermal_in in (thermal, None if kind == "samsod" else torch.zeros_like(thermal)):
            with torch.no_grad():
                expected = outputs(model, rgb, thermal_in)
            actual = outputs(runner, rgb, thermal_in)
            assert actual.shape == expected.shape
            difference = float((actual - expected).abs().max())
            assert difference <= TOLERANCE[precision], (kind, precision, thermal_in is None, difference)
    if kind == "sartm":
        ids, probabilities = runner.predict(rgb, thermal)
        assert torch.equal(ids, probabilities.argmax(1))
    with pytest.raises(ValueError, match="takes 128x160"):
        runner.predict(torch.rand(1, 3, 32, 32), None)


def test_the_cache_is_reused_and_keyed_by_weights_size_and_precision(checkpoints, cache, tmp_path, capsys):
    from rgbt_models.cli.export import main as export_cli

    model = checkpoints[1]["samsod"]
    lines: list[str] = []
    build(model, cache, lines=lines)  # (built by the first test that needed it, or now)
    shutil.copytree(cache, tmp_path, dirs_exist_ok=True)
    files = {path: path.stat().st_mtime_ns for path in tmp_path.glob("samsod-*-fp32-*.onnx")}
    assert len(files) == 2  # with thermal, and the RGB-only head
    lines.clear()
    build(model, tmp_path, lines=lines)  # a second start builds nothing
    assert lines[-1].endswith(f"graphs reused from {tmp_path}"), lines
    assert {path: path.stat().st_mtime_ns for path in tmp_path.glob("samsod-*-fp32-*.onnx")} == files
    sartm = checkpoints[1]["sartm"]
    build(sartm, tmp_path, lines=lines)  # these weights at 128x160 (reused or built)
    first = set(tmp_path.glob("sartm-rgbt-128x160-fp32-*.onnx"))
    other = untrained_model(sartm.config)  # another checkpoint: other weights, same config, same size
    build(other, tmp_path, lines=lines)
    assert "built sartm-rgbt-128x160-fp32-" in lines[-1], lines  # the weights' digest is in the key
    assert len(set(tmp_path.glob("sartm-rgbt-128x160-fp32-*.onnx")) - first) == 1
    # rgbt-export --format onnxruntime fills the node's cache ahead of its first start: the same
    # key as the node's for the same checkpoint, size and precision (reused from what the tests
    # above built).
    export = ["--checkpoint", checkpoints[2]["sartm"], "--format", "onnxruntime", "--width", "160",
              "--cache-dir", str(tmp_path), "--providers", "CPUExecutionProvider"]
    build(sartm, cache)
    shutil.copytree(cache, tmp_path, dirs_exist_ok=True)
    capsys.readouterr()
    assert export_cli([*export, "--height", "128"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"graphs reused from {tmp_path}")
    assert len(list(tmp_path.glob("sartm-rgbt-128x160-fp32-*.onnx"))) == 2  # these weights' graph and the other's
    assert not list(tmp_path.glob(".building-*"))


def missing_provider() -> str:
    """A provider ONNX Runtime knows but this build lacks, other than the GPU ones (on every build
    some are missing: a build has at most a few of the 19 onnxruntime knows)."""
    import onnxruntime

    available = set(onnxruntime.get_available_providers()) | {"CUDAExecutionProvider", "TensorrtExecutionProvider"}
    return next(p for p in onnxruntime.get_all_providers() if p not in available)


def test_an_unavailable_provider_is_skipped_with_its_line(checkpoints, cache):
    lines: list[str] = []
    missing = missing_provider()
    runner = build(checkpoints[1]["sartm"], cache, "fp16", [missing, "CPUExecutionProvider"], lines)
    assert any(line.startswith(f"sartm: onnxruntime: {missing} skipped: not in this onnxruntime build")
               and line.endswith("install an onnxruntime build that has it") for line in lines), lines
    assert "precision fp16 ignored on the CPU (fp32)" in "\n".join(lines)
    assert "on CPUExecutionProvider (fp32 graph" in lines[-1] and runner.precision == "fp32"
    with pytest.raises(ValueError, match="unknown provider.*CUDAProvider"):
        build(checkpoints[1]["sartm"], cache, providers=["CUDAProvider"])


def test_the_gpu_providers_are_skipped_quietly_only_where_there_is_no_cuda_device(checkpoints, cache):
    """A CPU-only machine with the CPU build loses nothing: no line per model about CUDA. A CUDA
    machine with the CPU build is told to install onnxruntime-gpu."""
    import onnxruntime

    lines: list[str] = []
    build(checkpoints[1]["sartm"], cache, "fp32", ["CUDAExecutionProvider", "CPUExecutionProvider"], lines)
    said = [line for line in lines if "CUDAExecutionProvider skipped" in line]
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert not said and "on CUDAExecutionProvider" in lines[-1]
    elif torch.cuda.is_available():
        assert len(said) == 1 and said[0].endswith("install onnxruntime-gpu for it"), lines
    else:
        assert not said and "on CPUExecutionProvider" in lines[-1], lines


def pipeline_params(checkpoints, cache, **extra) -> dict:
    params = {name: spec[0] for name, spec in PARAMETERS.items()}
    return params | {"sartm.checkpoint": checkpoints[2]["sartm"], "samsod.checkpoint": checkpoints[2]["samsod"],
                     "onnxruntime.cache_dir": str(cache), "onnxruntime.providers": ["CPUExecutionProvider"],
                     "threads": 1, "model_height": HEIGHT, "model_width": WIDTH} | extra


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_pipeline_gives_the_same_outputs_on_either_runtime(checkpoints, cache, precision):
    reference = build_pipeline(pipeline_params(checkpoints, cache, precision=precision), lambda line: None)
    lines: list[str] = []
    onnx = build_pipeline(pipeline_params(checkpoints, cache, precision=precision, runtime="onnxruntime"),
                          lines.append)
    assert onnx.runtime == "onnxruntime" and reference.runtime == "torch"
    assert {(spec.height, spec.width) for spec in onnx.inputs.values()} == {(HEIGHT, WIDTH)}
    assert sum(f"on CPUExecutionProvider ({precision} graph" in line for line in lines) == 2, lines
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (120, 160, 3), np.uint8)
    thermal = rng.integers(20000, 40000, (120, 160), np.uint16)
    for thermal_in in (thermal, None):  # None: degraded mode (SAMSOD's RGB-only head, SARTM paused)
        a, b = reference.run(rgb, thermal_in), onnx.run(rgb, thermal_in)
        assert b.degraded == (thermal_in is None)
        # int8: PyTorch's and onnxruntime's int8 kernels round differently, and a random-weight
        # SARTM's class probabilities are near ties, so some pixels' argmax flips.
        limit, agreement = (1, 0.99) if precision == "fp32" else (3, 0.95)
        assert np.abs(a.saliency_map.astype(int) - b.saliency_map).max() <= limit
        if thermal_in is None:
            assert a.semantic_mask is None and b.semantic_mask is None
        else:
            assert (a.semantic_mask == b.semantic_mask).mean() >= agreement
        assert len(a.objects) == len(b.objects)
    onnx.cancel()
    with pytest.raises(InferenceCancelled):
        onnx.run(rgb, thermal)


def test_a_missing_onnxruntime_is_a_start_error_naming_the_fix(checkpoints, cache, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(ModelLoadError, match="runtime: onnxruntime needs the onnxruntime package: pip install"):
        build_pipeline(pipeline_params(checkpoints, cache, runtime="onnxruntime"), lambda line: None)


@pytest.mark.slow
def test_replay_and_eval_give_the_same_numbers_on_either_runtime(tmp_path, checkpoints, cache):
    from rgbt_models.cli.evaluate import main as evaluate_cli
    from rgbt_models.data.drive import DriveConfig, write_drive_bag
    from rgbt_perception.replay import main as replay

    drive = DriveConfig(seconds=0.5, fps=10, height=128, width=160, dropout=None)
    write_drive_bag(tmp_path / "bag", drive, "mcap")
    summaries = {}
    for runtime in ("torch", "onnxruntime"):
        out = tmp_path / runtime
        assert replay([str(tmp_path / "bag"), *checkpoints[0],
                       "-p", f"runtime:={runtime}", "-p", f"onnxruntime.cache_dir:={cache}",
                       "-p", "onnxruntime.providers:=[CPUExecutionProvider]", "--label-topic", drive.label_topic,
                       "--mask-topic", drive.mask_topic, "--output", str(out), "--no-video",
                       "--overlay-every", "0"]) == 0
        summaries[runtime] = json.loads((out / "summary.json").read_text())
    torch_run, onnx_run = summaries["torch"], summaries["onnxruntime"]
    assert onnx_run["runtime"] == "onnxruntime" and torch_run["runtime"] == "torch"
    assert onnx_run["frames_processed"] == torch_run["frames_processed"] == 5
    assert onnx_run["counts"] == torch_run["counts"]
    assert onnx_run["semantic"]["with thermal"]["mIoU"] == pytest.approx(
        torch_run["semantic"]["with thermal"]["mIoU"], abs=0.01)
    for key in ("S", "maxF", "MAE"):
        assert onnx_run["saliency"]["with thermal"][key] == pytest.approx(
            torch_run["saliency"]["with thermal"][key], abs=0.005), key
    results = {}
    for runtime in ("torch", "onnxruntime"):
        assert evaluate_cli(["--checkpoint", checkpoints[2]["samsod"], "--dataset", "synthetic",
                             "--synthetic-count", "3", "--height", "128", "--width", "160", "--runtime", runtime,
                             "--providers", "CPUExecutionProvider", "--cache-dir", str(cache), "--no-progress",
                             "--output", str(tmp_path / f"eval_{runtime}")]) == 0
        (results[runtime],) = json.loads((tmp_path / f"eval_{runtime}" / "results.json").read_text()).values()
    for key in ("S", "maxF", "MAE"):
        assert results["onnxruntime"][key] == pytest.approx(results["torch"][key], abs=1e-4), key


@pytest.mark.ros
@pytest.mark.slow
def test_the_node_runs_onnxruntime_and_says_on_which_provider(rclpy_context, checkpoints, cache):
    """TensorRT, then CUDA, then the CPU: each missing one is skipped (with its line on a machine
    with a CUDA device, quietly on one without), and the node says which one runs (the CPU here;
    on a GPU machine with onnxruntime-gpu, the first present)."""
    import onnxruntime

    from rgbt_perception.testing.node_fixtures import OUTPUTS, TEST_NODE_ARGS, Probe
    from rgbt_perception.testing.ros_harness import NodeProcess

    args = [*TEST_NODE_ARGS, *checkpoints[0], "-p", "runtime:=onnxruntime", "-p", "precision:=int8", "-p",
            f"onnxruntime.cache_dir:={cache}", "-p",
            "onnxruntime.providers:=[TensorrtExecutionProvider, CUDAExecutionProvider, CPUExecutionProvider]"]
    node = NodeProcess("rgbt_perception.node", ros_args=args)
    probe = Probe(rclpy_context)
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        log = node.log()
        available = onnxruntime.get_available_providers()
        wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
        chosen = next(p for p in wanted if p in available)
        for kind in ("sartm", "samsod"):
            for provider in wanted[:wanted.index(chosen)]:
                assert (f"{kind}: onnxruntime: {provider} skipped" in log) == torch.cuda.is_available(), log
            assert f"on {chosen} (" in log, log
        assert probe.wait_for_node(), node.log()
        probe.publish_pairs(3)
        assert probe.wait(lambda: all(probe.received[t] for t in OUTPUTS), 30), node.log()
        node.stop(signal.SIGINT, timeout=5.0)  # exit 0 within 5 s, or it fails
    finally:
        node.kill()
        probe.close()
