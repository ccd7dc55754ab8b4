"""make gpu-check: what only a CUDA GPU can show, in one table (about 5 minutes on one GPU).

- fp16 and bf16 autocast against fp32 outputs, SAMSOD and SARTM (tiny, 512x512, random weights):
  largest saliency / class-probability difference and the share of pixels whose class changes;
- AMP training (rgbt-train's and rgbt-adapt's own loop, amp: true) of SAMSOD, SARTM and UUSOD's
  stage 1 on the test configs: every loss finite, the last epoch's below the first;
- the node on device: cuda (precision fp16) at 30 Hz for 30 s (benchmarks/bench_node.py):
  p50 / p95 latency and the node's GPU memory;
- ONNX Runtime's CUDA and TensorRT providers where this onnxruntime has them: SAMSOD tiny's
  graph against PyTorch fp32, and its time;
- SAMSOD-tiny frames per second at the paper's input size (512x512, batch 1, fp16 autocast)
  against the paper's 23.1 FPS on an RTX 3090.

On a machine without CUDA it says so in one line and exits 0. Exit 1 when a check fails.
Usage: python benchmarks/gpu_check.py [--node-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import print_table  # first: the thread policy (rgbt_models) before torch

HERE = Path(__file__).resolve().parent
PAPER_FPS = 23.1
SIZE = 512


def tiny_models(device):
    import torch

    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.runtime.loading import untrained_model
    from rgbt_models.samsod import SAMSODConfig
    from rgbt_models.sartm import SARTMConfig

    torch.manual_seed(0)
    backbone = BackboneConfig(name="tiny", image_size=SIZE)
    return (untrained_model(SAMSODConfig(backbone=backbone)).to(device),
            untrained_model(SARTMConfig(backbone=backbone, classes="mfnet")).to(device))


def precision_rows(samsod, sartm, rgb, thermal) -> list[list[str]]:
    """fp16 / bf16 autocast against fp32 on the same pair."""
    import torch

    rows = []
    with torch.inference_mode():
        saliency = samsod.predict(rgb, thermal).float()
        ids, probabilities = sartm.predict(rgb, thermal)
        for name, dtype, limit in (("fp16", torch.float16, 0.02), ("bf16", torch.bfloat16, 0.06)):
            if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
                rows.append([f"{name} autocast against fp32", "bf16 unsupported on this GPU", "skipped"])
                continue
            with torch.autocast("cuda", dtype=dtype):
                low_saliency = samsod.predict(rgb, thermal).float()
                low_ids, low_probabilities = sartm.predict(rgb, thermal)
            sal = float((low_saliency - saliency).abs().max())
            prob = float((low_probabilities.float() - probabilities).abs().max())
            changed = float((low_ids != ids).float().mean())
            ok = sal <= limit and prob <= limit and math.isfinite(sal + prob)
            rows.append([f"{name} autocast against fp32 (limit {limit})",
                         f"SAMSOD max |diff| {sal:.1e}; SARTM max |diff| {prob:.1e}, pixels changing class "
                         f"{100 * changed:.2f} %", "ok" if ok else "FAILED"])
    return rows


def training_rows(folder: Path, device: str = "cuda") -> list[list[str]]:
    """AMP training through the project's own loops on the test configs (device: cpu runs the
    same jobs without AMP: how this check itself is tested on a machine without a GPU)."""
    from rgbt_models.training.config import TrainConfig
    from rgbt_models.training.trainer import train
    from rgbt_models.uusod.config import AdaptConfig
    from rgbt_models.uusod.runner import run

    configs = Path(__file__).resolve().parents[1] / "rgbt_models" / "rgbt_models" / "configs"
    rows = []
    jobs = {"SAMSOD (rgbt-train)": lambda: train(_with(TrainConfig, configs / "train" / "samsod_test.yaml",
                                                       folder / "samsod"), device=device, progress=False),
            "SARTM (rgbt-train)": lambda: train(_with(TrainConfig, configs / "train" / "sartm_test.yaml",
                                                      folder / "sartm"), device=device, progress=False),
            "UUSOD stage 1 (rgbt-adapt sce)": lambda: run(_with(AdaptConfig, configs / "uusod" / "sce_test.yaml",
                                                                folder / "sce"), device=device, progress=False)}
    for name, job in jobs.items():
        started = time.perf_counter()
        try:
            losses = [record["loss"] for record in job()["history"]]
        except Exception as error:  # one failing job must not hide the others' rows
            rows.append([f"AMP training: {name}", f"error: {str(error).splitlines()[0][:150]}", "FAILED"])
            continue
        ok = all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
        rows.append([f"AMP training: {name}", "epoch losses " + " -> ".join(f"{v:.4f}" for v in losses)
                     + f" ({time.perf_counter() - started:.0f} s)", "ok" if ok else "FAILED"])
    return rows


def _with(config_class, path: Path, output: Path):
    """A config file with its output folder moved to `output` and amp on."""
    config = config_class.from_yaml(path)
    config.output_dir = str(output)
    config.train.amp = True
    return config


def node_row(seconds: float, folder: Path) -> list[str]:
    report = folder / "node.json"
    command = [sys.executable, str(HERE / "bench_node.py"), "--seconds", str(seconds), "--size", "tiny",
               "--node-param", "device:=cuda", "--node-param", "precision:=fp16", "--json", str(report)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
    if not report.is_file():
        return ["node, device: cuda, fp16, 30 Hz", f"bench_node failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}", "FAILED"]
    figures = json.loads(report.read_text())
    gpu = f"{figures['gpu_mib']:.0f} MiB" if figures["gpu_mib"] is not None else "n/a (no nvidia-smi)"
    return [f"node, device: cuda, fp16, 30 Hz for {seconds:.0f} s",
            f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, model {figures['model_ms']:.1f} ms, "
            f"{figures['processed_hz']:.1f} pairs/s processed, GPU memory {gpu}",
            "ok" if not figures["missed"] else f"missed: {', '.join(figures['missed'])}"]


def onnxruntime_rows(samsod, rgb, thermal, folder: Path) -> list[list[str]]:
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        return [["ONNX Runtime CUDA / TensorRT", "onnxruntime is not installed", "skipped"]]
    from rgbt_models.runtime.onnx_runtime import CUDA, TENSORRT, OnnxRuntimeModel

    available = ort.get_available_providers()
    cpu_model = samsod.to("cpu")
    with torch.inference_mode():
        expected = cpu_model.predict(rgb.cpu(), thermal.cpu())
    rows = []
    for provider in (CUDA, TENSORRT):
        if provider not in available:
            rows.append([f"ONNX Runtime {provider}", f"not in this onnxruntime build ({', '.join(available)}); "
                         "onnxruntime-gpu has it", "skipped"])
            continue
        for precision in ("fp32", "fp16"):
            lines: list[str] = []
            try:
                model = OnnxRuntimeModel.build(cpu_model, SIZE, SIZE, precision, [provider], "cuda", folder / "onnx",
                                               log=lines.append)
                actual = model.predict(rgb.cpu(), thermal.cpu())
                for _ in range(3):
                    model.predict(rgb.cpu(), thermal.cpu())
                started = time.perf_counter()
                for _ in range(20):
                    model.predict(rgb.cpu(), thermal.cpu())
                ms = 1000 * (time.perf_counter() - started) / 20
            except Exception as error:  # a provider that cannot start is a finding, not a crash
                rows.append([f"ONNX Runtime {provider} {precision}", f"error: {str(error).splitlines()[0][:150]}",
                             "FAILED"])
                continue
            difference = float((actual - expected).abs().max())
            ok = model.providers[0] == provider and difference <= (1e-3 if precision == "fp32" else 0.02)
            rows.append([f"ONNX Runtime {provider} {precision} (SAMSOD tiny {SIZE}x{SIZE})",
                         f"runs on {model.providers[0]}, {ms:.1f} ms per frame (host copies included), "
                         f"max |diff| from PyTorch fp32 {difference:.1e}", "ok" if ok else "FAILED"])
    return rows


def fps_row(samsod, rgb, thermal) -> list[str]:
    import torch

    samsod = samsod.to("cuda")
    rgb, thermal = rgb.to("cuda"), thermal.to("cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
        for _ in range(10):
            samsod.predict(rgb, thermal)
        torch.cuda.synchronize()
        started, count = time.perf_counter(), 100
        for _ in range(count):
            samsod.predict(rgb, thermal)
        torch.cuda.synchronize()
    fps = count / (time.perf_counter() - started)
    return [f"SAMSOD-tiny FPS, {SIZE}x{SIZE}, batch 1, fp16", f"{fps:.1f} FPS (paper: {PAPER_FPS} on an RTX 3090; "
            f"{fps / PAPER_FPS:.2f}x)", "ok" if fps >= PAPER_FPS else "below the paper"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-seconds", type=float, default=30.0)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device on this machine (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda or 'none'}): nothing to check here")
        return 0
    started = time.perf_counter()
    name = torch.cuda.get_device_name(0)
    memory = torch.cuda.get_device_properties(0).total_memory / 2**30
    print(f"gpu-check on {name} ({memory:.0f} GiB), torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        samsod, sartm = tiny_models("cuda")
        generator = torch.Generator().manual_seed(0)
        rgb = torch.rand(1, 3, SIZE, SIZE, generator=generator).cuda()
        thermal = torch.rand(1, 1, SIZE, SIZE, generator=generator).cuda()
        for section in (lambda: precision_rows(samsod, sartm, rgb, thermal), lambda: [fps_row(samsod, rgb, thermal)],
                        lambda: training_rows(folder), lambda: [node_row(args.node_seconds, folder)],
                        lambda: onnxruntime_rows(samsod, rgb, thermal, folder)):
            try:
                rows += section()
            except Exception as error:  # report and go on: the table is the product
                rows.append(["(a check)", f"error: {type(error).__name__}: {str(error).splitlines()[0][:150]}",
                             "FAILED"])
            print(f"  ... {len(rows)} rows, {time.perf_counter() - started:.0f} s", flush=True)
    print(f"gpu-check on {name}, {time.perf_counter() - started:.0f} s")
    print_table(["check", "result", "verdict"], rows)
    failed = [row[0] for row in rows if row[2] == "FAILED"]
    print("gpu-check: " + (f"FAILED: {'; '.join(failed)}" if failed else "every check passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
