"""Helpers shared by the benchmark scripts: the thread policy, interleaved timing, Markdown tables.

Imported before torch by every benchmark, so that `import rgbt_models` sets the OpenMP wait
policy first (rgbt_models/runtime/threads.py)."""

from __future__ import annotations

import statistics
import time

from rgbt_models.runtime import threads as thread_policy
from rgbt_models.runtime.timing import median_seconds

__all__ = ["apply_threads", "bench_arguments", "interleaved_seconds", "median_seconds", "print_table"]


def bench_arguments(parser) -> None:
    """--threads on every benchmark, applied (and printed) by `apply_threads`."""
    parser.add_argument("--threads", default="auto", type=thread_policy.argument, help=thread_policy.THREADS_HELP)


def apply_threads(threads) -> None:
    print(thread_policy.describe(thread_policy.apply(threads)), flush=True)


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join(" --- " for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def interleaved_seconds(variants: dict[str, object], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each variant, timed round by round (variant A, B, ... then again), so
    that a change of machine load between phases cannot bias one variant against another."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def model_over_encoder(title: str, frozen, model, resolution: int, repeats: int, model_label: str,
                       target: float, paper_params: str = "") -> bool:
    """Time of the frozen SAM 2 encoder on an RGB+T pair (one batch of 2) and of the model's
    prediction on the same pair, interleaved round by round; the median of the per-round ratios
    (with their range) against `target`, and parameter counts. Returns whether the target is met."""
    import torch

    rgb = torch.rand(1, 3, resolution, resolution)
    thermal = torch.rand(1, 1, resolution, resolution)
    with torch.inference_mode():
        samples = interleaved_seconds({
            "encoder": lambda: frozen.image_encoder(torch.cat([rgb, thermal.expand(-1, 3, -1, -1)])),
            "model": lambda: model.predict(rgb, thermal)}, repeats)
    ratios = [m / e for m, e in zip(samples["model"], samples["encoder"])]
    ratio = statistics.median(ratios)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{title}, {resolution}x{resolution}, CPU threads {torch.get_num_threads()}, {repeats} interleaved rounds")
    print_table(["measure", "value"], [
        ["frozen encoder, RGB+T pair (s, median)", f"{statistics.median(samples['encoder']):.3f}"],
        [f"{model_label} (s, median)", f"{statistics.median(samples['model']):.3f}"],
        [f"model/encoder, median of per-round ratios (target <= {target})",
         f"{ratio:.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"],
        ["parameters total (M)", f"{total / 1e6:.1f}{paper_params}"],
        ["parameters trainable (M)", f"{trainable / 1e6:.2f}"],
    ])
    met = ratio <= target
    print(f"target model/encoder <= {target}: {'met' if met else 'MISSED'}")
    return met
