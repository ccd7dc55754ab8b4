"""The training YAML: task, model, data, optimisation, output folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rgbt_models.config import ConfigError, check_data, read_config

TASKS = ("samsod", "sartm")


@dataclass
class DataConfig:
    """dataset: a published layout (mfnet, pst900, fmb, vt5000, vt1000, vt821), folder, bag or
    synthetic. For bag: root is the bag (or the folder of bags that train_split / val_split
    name), and the topics below say where the pairs and their labels are."""

    dataset: str = "synthetic"
    root: str | None = None
    train_split: str | None = None
    val_split: str | None = None
    height: int = 512
    width: int = 512
    thermal_normalization: str = "minmax"  # fixed | minmax | percentile | stable (data/thermal.py)
    thermal_range: tuple[float, float] = (0.0, 65535.0)
    thermal_percentiles: tuple[float, float] = (1.0, 99.0)
    thermal_time_constant: float = 2.0  # 'stable': recorded for the node (still images use the percentiles)
    thermal_polarity: str = "white_hot"  # black_hot: the data's camera shows warm objects dark
    class_mapping: str | None = None  # SARTM: YAML mapping the data set's class ids onto the model's
    # The rig's thermal -> RGB homography, as the node applies it: the node's params file holding
    # thermal.homography (rgbt-calibrate's output), or its 9 numbers; null: registered already.
    homography: str | list[float] | None = None
    # Only for dataset: bag (label_classes: the label topic's class list, default the model's)
    rgb_topic: str | None = None
    thermal_topic: str | None = None
    label_topic: str | None = None
    mask_topic: str | None = None
    label_classes: str | None = None
    # Only for dataset: synthetic
    train_count: int = 256
    val_count: int = 32
    scene_height: int = 128
    scene_width: int = 160

    @property
    def thermal_setup(self):
        """The thermal set-up of this data: recorded in every checkpoint, applied by the node."""
        from rgbt_models.data.thermal import trained_setup_with

        return trained_setup_with(None, normalization=self.thermal_normalization, range=self.thermal_range,
                                  percentiles=self.thermal_percentiles, time_constant=self.thermal_time_constant,
                                  polarity=self.thermal_polarity)


@dataclass
class OptimConfig:
    epochs: int = 10
    batch_size: int = 8
    optimizer: str = "adam"  # adam | adamw
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "poly"  # poly (with linear warm-up) | constant
    warmup_epochs: float = 0.0
    poly_power: float = 0.9
    seed: int = 0
    num_workers: int = 0
    amp: bool = True  # CUDA only: bf16 where supported, else fp16 with a GradScaler
    log_every: int = 10


@dataclass
class TrainConfig:
    task: str
    model: dict
    data: DataConfig = field(default_factory=DataConfig)
    train: OptimConfig = field(default_factory=OptimConfig)
    output_dir: str = "runs/default"
    # A checkpoint of ours to start from (fine-tuning a deployed model on new labels, e.g. frames
    # mined by rgbt-replay --mine): its weights and its model config; `model` is then not read.
    init_checkpoint: str | None = None

    @classmethod
    def from_yaml(cls, path: str | Path, task: str | None = None) -> TrainConfig:
        config = read_config(path, cls, defaults={"task": task, "model": {}})
        config.model, config.output_dir = dict(config.model or {}), str(config.output_dir)
        if task is not None and config.task != task:
            raise ConfigError(f"{path}: is a {config.task!r} config, but {task!r} was asked for")
        if config.task not in TASKS:
            raise ConfigError(f"{path}: task must be one of {TASKS}, got {config.task!r}")
        check_data(config.data, path)
        if config.train.optimizer not in ("adam", "adamw") or config.train.scheduler not in ("poly", "constant"):
            raise ConfigError(f"{path}: train.optimizer must be adam|adamw and train.scheduler poly|constant")
        return config

    def to_dict(self) -> dict:
        return asdict(self)
