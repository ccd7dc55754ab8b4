"""The rgbt-adapt YAML: which stage, the model, the unlabeled data, PCL-SD / SPR / refiner
settings and the optimisation (the `train:` section of rgbt-train)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rgbt_models.config import ConfigError, check_input_size, check_keys, load_yaml, read_sections
from rgbt_models.training.config import OptimConfig

STAGES = ("sce", "detector", "adapter")


@dataclass(frozen=True)
class HeadWeighting:
    """How SAMSOD's heads make a pseudo-label (uusod/head_weighting.py). `mode`: 'sum' (the
    model's own prediction: sigmoid of the sum of its heads) or 'boundary' (the heads weighted by
    the boundary prior). `band`: the border's width as a fraction of the
    shorter image side; `temperature`: how sharply a head with a salient border loses weight
    (in units of mean border saliency)."""

    mode: str = "boundary"
    band: float = 0.06
    temperature: float = 0.02

    def __post_init__(self) -> None:
        if self.mode not in ("sum", "boundary"):
            raise ValueError(f"heads.mode must be 'sum' or 'boundary', got {self.mode!r}")
        if not 0 < self.band < 0.5 or self.temperature <= 0:
            raise ValueError(f"heads.band must be in (0, 0.5) and heads.temperature > 0, got {self}")


@dataclass
class UnlabeledDataConfig:
    sources: list[str] = field(default_factory=lambda: ["synthetic:64"])
    height: int = 128
    width: int = 160
    thermal_normalization: str = "minmax"
    # Optional labelled set for evaluation only (rgbt-eval's NAME[:ROOT[:SPLIT]], or
    # synthetic:COUNT:FIRST_SEED:DOMAIN): S-measure / MAE of the model after every epoch.
    eval: str | None = None


@dataclass
class AdaptConfig:
    stage: str
    model: dict = field(default_factory=dict)  # sce: SCEConfig; detector: SAMSODConfig; adapter: unused
    cue_checkpoint: str | None = None  # detector: the stage-1 SCE whose maps are the first pseudo-labels
    source_checkpoint: str | None = None  # adapter: the trained SAMSOD to adapt
    adapter_hidden: int = 64
    data: UnlabeledDataConfig = field(default_factory=UnlabeledDataConfig)
    schedule: dict = field(default_factory=lambda: {"start": 0.2, "slope": -0.6})  # PCL-SD hard-pixel margin
    spr: dict = field(default_factory=lambda: {"enabled": True, "refined": 0.1, "prediction": 0.7, "previous": 0.2})
    # How the SAMSOD's heads make a pseudo-label (uusod/head_weighting.py): 'boundary' weights
    # them by the boundary prior (a head that marks the image border salient loses weight),
    # 'sum' is the model's own prediction. The detector stage starts from the SCE's maps.
    heads: dict = field(default_factory=lambda: asdict(HeadWeighting()))
    refiner: dict = field(default_factory=lambda: {"dilations": [1, 2, 4, 8], "iterations": 10})
    train: OptimConfig = field(default_factory=OptimConfig)
    output_dir: str = "runs/uusod"

    @classmethod
    def from_yaml(cls, path: str | Path, stage: str | None = None) -> AdaptConfig:
        content = load_yaml(path)
        try:
            check_keys("rgbt-adapt config", content, cls.__dataclass_fields__)
            sections = read_sections(content, {"data": UnlabeledDataConfig, "train": OptimConfig})
            content = {k: v for k, v in content.items() if k not in sections}
            content.setdefault("stage", stage)
            config = cls(**content, **sections)
            HeadWeighting(**config.heads)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{path}: {error}") from error
        if stage is not None and config.stage != stage:
            raise ConfigError(f"{path}: is a {config.stage!r} config, but {stage!r} was asked for")
        if config.stage not in STAGES:
            raise ConfigError(f"{path}: stage must be one of {STAGES}, got {config.stage!r}")
        check_input_size(config.data.height, config.data.width, f"{path}: data.height/width")
        needs = {"detector": "cue_checkpoint", "adapter": "source_checkpoint"}.get(config.stage)
        if needs and not getattr(config, needs):
            raise ConfigError(f"{path}: stage {config.stage!r} needs {needs}")
        return config

    def to_dict(self) -> dict:
        return asdict(self)
