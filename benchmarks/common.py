"""Helpers shared by the benchmark scripts: timing medians and Markdown tables."""

from __future__ import annotations

from rgbt_models.timing import median_seconds

__all__ = ["median_seconds", "print_table"]


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join(" --- " for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def model_over_encoder(title: str, frozen, model, resolution: int, repeats: int, model_label: str,
                       target: float, paper_params: str = "") -> None:
    """Median time of the frozen SAM 2 encoder on an RGB+T pair (one batch of 2) and of the
    model's prediction on the same pair, their ratio against `target`, and parameter counts."""
    import torch

    rgb = torch.rand(1, 3, resolution, resolution)
    thermal = torch.rand(1, 1, resolution, resolution)
    with torch.inference_mode():
        encoder_s = median_seconds(lambda: frozen.image_encoder(torch.cat([rgb, thermal.expand(-1, 3, -1, -1)])),
                                   repeats)
        model_s = median_seconds(lambda: model.predict(rgb, thermal), repeats)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{title}, {resolution}x{resolution}, CPU threads {torch.get_num_threads()}, median of {repeats}")
    print_table(["measure", "value"], [
        ["frozen encoder, RGB+T pair (s)", f"{encoder_s:.3f}"],
        [f"{model_label} (s)", f"{model_s:.3f}"],
        [f"ratio (target <= {target})", f"{model_s / encoder_s:.2f}"],
        ["parameters total (M)", f"{total / 1e6:.1f}{paper_params}"],
        ["parameters trainable (M)", f"{trainable / 1e6:.2f}"],
    ])
