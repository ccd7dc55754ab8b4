"""PNG plots of evaluation results (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_saliency_curves(results: dict[str, dict], folder: str | Path) -> list[Path]:
    """PR curve and F-measure vs threshold, one line per data set: {name: SaliencyMetrics.results()}."""
    plt = _pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, res in results.items():
        ax.plot(res["curves"]["recall"], res["curves"]["precision"], label=name)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="PR curve")
    ax.legend()
    paths.append(folder / "pr_curve.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, res in results.items():
        ax.plot(np.arange(len(res["curves"]["f"])), res["curves"]["f"], label=name)
    ax.set(xlabel="threshold", ylabel="F-measure", title="F-measure vs threshold")
    ax.legend()
    paths.append(folder / "f_curve.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def plot_confusion(matrix: np.ndarray, class_names: tuple[str, ...], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (ground truth rows); `title` says which one it is."""
    plt = _pyplot()
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4, 0.5 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set(xlabel="prediction", ylabel="ground truth",
           title=f"{title}: confusion matrix, row-normalised" if title else "confusion matrix, row-normalised")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
