"""The thread policy (set before torch loads, in every entry point) and the CPU int8 path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from rgbt_models.backbone import BackboneConfig
from rgbt_models.runtime import threads
from rgbt_models.runtime.quantization import quantize_int8
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig

PROBE = ("import json, os, sys; {imports}; import torch; "
         "print(json.dumps({{'policy': os.environ.get('OMP_WAIT_POLICY'), 'threads': torch.get_num_threads()}}))")


def run_probe(imports: str, env: dict | None = None) -> dict:
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], capture_output=True, text=True,
                            env={**environment, **(env or {})}, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_auto_threads_is_half_the_cpus_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 8)
    assert threads.resolve_threads("auto") == threads.resolve_threads(0) == threads.resolve_threads(None) == 4
    monkeypatch.setattr(threads, "available_cpus", lambda: 1)
    assert threads.resolve_threads("auto") == 1 and threads.resolve_threads("3") == 3
    for bad in ("many", -2):
        with pytest.raises(ValueError, match="threads must be a positive number or 'auto'"):
            threads.resolve_threads(bad)


def test_importing_the_packages_sets_the_wait_policy_before_torch_loads():
    assert run_probe("import rgbt_models")["policy"] == "PASSIVE"
    assert run_probe("import rgbt_perception")["policy"] == "PASSIVE"
    assert run_probe("import rgbt_models", {"OMP_WAIT_POLICY": "ACTIVE"})["policy"] == "ACTIVE"  # the user's wins


def test_apply_sets_the_counts_and_says_when_it_came_too_late():
    code = ("import torch, json; from rgbt_models.runtime import threads; "
            "print(json.dumps(threads.apply(1)))")
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    policy = json.loads(result.stdout.splitlines()[-1])
    assert policy["intra_op_threads"] == 1 and policy["inter_op_threads"] == 1
    assert "not in force: torch was imported first" in policy["omp_wait_policy"]


@pytest.mark.parametrize("module", ["rgbt_models.cli.train", "rgbt_models.cli.evaluate", "rgbt_models.cli.export",
                                    "rgbt_perception.replay"])
def test_every_command_line_takes_threads(module):
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--threads" in result.stdout
    result = subprocess.run([sys.executable, "-m", module, "--threads", "lots", *(["x"] * 2)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "threads must be a positive number or 'auto'" in result.stderr


def test_int8_quantises_every_linear_and_stays_close_to_fp32():
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=64))).eval()
    quantized = quantize_int8(model)
    assert not any(type(m) is nn.Linear for m in quantized.modules())
    assert any(type(m) is nn.Linear for m in model.modules())  # the original is left alone
    rgb, thermal = torch.rand(1, 3, 64, 96), torch.rand(1, 1, 64, 96)
    with torch.inference_mode():
        difference = (quantized.predict(rgb, thermal) - model.predict(rgb, thermal)).abs().max()
    assert 0 < difference < 0.05


def test_the_pipeline_runs_int8_models_in_place():
    from rgbt_models.data.synthetic import make_scene
    from rgbt_models.runtime.placement import Runtime
    from rgbt_perception.pipeline import Pipeline, PipelineConfig

    backbone = BackboneConfig(name="test", image_size=64)
    sartm = SARTM(SARTMConfig(backbone=backbone, classes="synthetic", lora_rank=4), torch.zeros(4, 1))
    placement = Runtime(device="cpu", precision="int8").choose()  # the node's factory places them so
    models = [placement.place(model, (64, 96)) for model in (sartm, SAMSOD(SAMSODConfig(backbone=backbone)))]
    pipeline = Pipeline(PipelineConfig(), *models, model_size=(64, 96))
    assert pipeline.sartm is sartm and not any(type(m) is nn.Linear for m in sartm.modules())
    scene = make_scene(0, 64, 96)
    result = pipeline.run(scene.rgb, scene.thermal_raw)
    assert result.semantic_mask.shape == (64, 96) and result.saliency_map.shape == (64, 96)
