"""The rgbt-adapt YAML: which stage, the model, the unlabeled data, PCL-SD / SPR / refiner
settings and the optimisation (the `train:` section of rgbt-train)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rgbt_models.config import ConfigError, build_sections, check_data, read_config
from rgbt_models.training.config import OptimConfig

STAGES = ("pretrain", "sce", "detector", "adapter")


@dataclass(frozen=True)
class HardPixelSchedule:
    """p(epoch) = start + slope * epoch / epochs, epoch counted from 1 as the authors do.

    Default (0.2, -0.6): the authors' A2S-v3 code (methods/a2s/loss.py, `p = 0.2 - 0.6 *
    epoch / E`), which the paper leaves unstated. It masks pixels within 0.2 of 0.5 at the
    start, and none from a third of the training on (p <= 0): the first third learns from the
    confident pixels only, the rest from all. We keep it because it is the only published value;
    the schedule is a config value (uusod.sce.schedule) for other choices."""

    start: float = 0.2
    slope: float = -0.6

    def p(self, epoch: int, epochs: int) -> float:
        return self.start + self.slope * epoch / max(1, epochs)


@dataclass(frozen=True)
class SPRWeights:
    """l1 for R_pri (the prediction refined by the pixel-affinity refiner), l2 for R_post (the
    model's own prediction), l3 for G_pre (the previous label). Defaults: the authors' 0.1 / 0.7 /
    0.2 (docs/methods.md: 0.7 prediction, 0.2 previous label, 0.1 refined prediction)."""

    refined: float = 0.1
    prediction: float = 0.7
    previous: float = 0.2

    def __post_init__(self) -> None:
        total = self.refined + self.prediction + self.previous
        if min(self.refined, self.prediction, self.previous) < 0 or abs(total - 1.0) > 1e-6:
            raise ValueError(f"SPR weights must be >= 0 and sum to 1, got {self}")


@dataclass(frozen=True)
class HeadWeighting:
    """How SAMSOD's heads make a pseudo-label (uusod/head_weighting.py). `mode`: 'sum' (the
    model's own prediction: sigmoid of the sum of its heads) or 'boundary' (the heads weighted by
    the boundary prior). `band`: the border's width as a fraction of the shorter image side;
    `temperature`: how sharply a head loses weight as its border-to-interior score rises (the
    score is in [0, 1]); `min_confident`: the share of interior pixels above 0.5 a head needs to
    count as seeing something (a head below it gets no weight)."""

    mode: str = "boundary"
    band: float = 0.06
    temperature: float = 0.05
    min_confident: float = 0.002

    def __post_init__(self) -> None:
        if self.mode not in ("sum", "boundary"):
            raise ValueError(f"heads.mode must be 'sum' or 'boundary', got {self.mode!r}")
        if not 0 < self.band < 0.5 or self.temperature <= 0 or not 0 <= self.min_confident < 1:
            raise ValueError(f"heads.band must be in (0, 0.5), heads.temperature > 0 and heads.min_confident in "
                             f"[0, 1), got {self}")


@dataclass(frozen=True)
class SPRConfig(SPRWeights):
    """SPR (uusod/spr.py): on or off, its weights (the authors' 0.1 / 0.7 / 0.2), the variant and
    its timing. `variant`: 'soft' (the labels as SPR writes them, clamped to [0, 1], trained on
    with the structure loss) or 'authors' (A2S-v3: the refined map and the new label normalised
    by their maxima, training on the label thresholded at 0.5 with an IoU loss). `start_epoch`:
    the first epoch (from 1) trained on rewritten labels (the authors': 3); labels are rewritten
    after each epoch from start_epoch - 1 on, never after the last (nothing would use them)."""

    enabled: bool = True
    variant: str = "soft"
    start_epoch: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in SPR_VARIANTS:
            raise ValueError(f"spr.variant must be one of {SPR_VARIANTS}, got {self.variant!r}")
        if self.start_epoch < 2:
            raise ValueError(f"spr.start_epoch must be >= 2 (epoch 1 trains on the first labels), got "
                             f"{self.start_epoch}")

    def rewrite_after(self, epoch: int, epochs: int) -> bool:
        """Whether labels are rewritten after `epoch` (from 1) of `epochs`."""
        return self.enabled and self.start_epoch - 1 <= epoch < epochs


SPR_VARIANTS = ("soft", "authors")


@dataclass(frozen=True)
class Stage1Loss:
    """UUSOD stage 1's loss (uusod/pcl_sd.py, uusod/texture.py). The authors' A2S-v3 stage 1
    (methods/a2s/loss.py, not in the paper's text) weights its three terms 1 / 0.05 / 1: the
    distilling loss (PCL-SD) with an exponent annealed from 2 to 1 over the epochs, the
    boundary-aware texture-matching loss (texture_alpha 200, texture_radius 5 at a quarter of the
    resolution), and the consistency (mean squared difference) of the maps of two views of each
    image (here: the image and its mirror image with another brightness and contrast). Weight 0
    switches a term off; exponent_annealing false keeps the paper's exponent 1."""

    exponent_annealing: bool = True
    texture_weight: float = 0.05
    consistency_weight: float = 1.0
    texture_alpha: float = 200.0
    texture_radius: int = 5

    def __post_init__(self) -> None:
        if min(self.texture_weight, self.consistency_weight) < 0 or self.texture_alpha <= 0 or self.texture_radius < 1:
            raise ValueError(f"stage1: weights must be >= 0, texture_alpha > 0 and texture_radius >= 1, got {self}")


@dataclass(frozen=True)
class RefinerConfig:
    """The pixel-affinity refiner (uusod/refiner.py): neighbourhood dilations and iterations."""

    dilations: tuple[int, ...] = (1, 2, 4, 8)
    iterations: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if not self.dilations or min(self.dilations) < 1 or int(self.iterations) < 1:
            raise ValueError(f"refiner.dilations must be positive integers and refiner.iterations >= 1, got {self}")


@dataclass
class UnlabeledDataConfig:
    sources: list[str] = field(default_factory=lambda: ["synthetic:64"])
    height: int = 128
    width: int = 160
    # The thermal set-up (rgbt_models/data/thermal.py); unset (null): the adapted model's own
    # (recorded in its checkpoint) for the adapter stage, else minmax, white-hot.
    thermal_normalization: str | None = None
    thermal_range: tuple[float, float] | None = None
    thermal_percentiles: tuple[float, float] | None = None
    thermal_polarity: str | None = None
    # The rig's thermal -> RGB homography as the node applies it (a params file holding
    # thermal.homography, e.g. rgbt-calibrate's output, or 9 numbers), for the bag sources (the
    # rig's own recordings; a published or folder layout is registered already); null: none.
    homography: str | list[float] | None = None
    # Optional labelled set for evaluation only (rgbt-eval's NAME[:ROOT[:SPLIT]], or
    # synthetic:COUNT:FIRST_SEED:DOMAIN): S-measure / MAE of the model after every epoch.
    eval: str | None = None


@dataclass
class AdaptConfig:
    """An rgbt-adapt YAML. Its typed fields (data, schedule, stage1, spr, heads, refiner, train)
    are its sections: mappings, read with unknown keys and bad values refused (config.from_mapping)."""

    stage: str
    # pretrain: {backbone, mask_ratio, patch}; sce: SCEConfig; detector: SAMSODConfig; adapter: unused
    model: dict = field(default_factory=dict)
    cue_checkpoint: str | None = None  # detector: the stage-1 SCE whose maps are the first pseudo-labels
    source_checkpoint: str | None = None  # adapter: the trained SAMSOD to adapt
    adapter_hidden: int = 64
    adapter_levels: str = "deepest"  # adapter: on the deepest encoder level only, or on "all" four
    data: UnlabeledDataConfig = field(default_factory=UnlabeledDataConfig)
    schedule: HardPixelSchedule = field(default_factory=HardPixelSchedule)  # PCL-SD hard-pixel margin
    stage1: Stage1Loss = field(default_factory=Stage1Loss)  # the sce stage's loss terms
    spr: SPRConfig = field(default_factory=SPRConfig)
    # How the SAMSOD's heads make a pseudo-label (uusod/head_weighting.py): 'boundary' weights
    # them by the boundary prior (a head that marks the image border salient loses weight),
    # 'sum' is the model's own prediction. The detector stage starts from the SCE's maps.
    heads: HeadWeighting = field(default_factory=HeadWeighting)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    train: OptimConfig = field(default_factory=OptimConfig)
    output_dir: str = "runs/uusod"

    def __post_init__(self) -> None:
        """Sections given as mappings (a config made in code) are built and checked here too."""
        build_sections(self)

    @classmethod
    def from_yaml(cls, path: str | Path, stage: str | None = None) -> AdaptConfig:
        config = read_config(path, cls, defaults={"stage": stage})
        if stage is not None and config.stage != stage:
            raise ConfigError(f"{path}: is a {config.stage!r} config, but {stage!r} was asked for")
        if config.stage not in STAGES:
            raise ConfigError(f"{path}: stage must be one of {STAGES}, got {config.stage!r}")
        check_data(config.data, path)
        if config.adapter_levels not in ("deepest", "all"):
            raise ConfigError(f"{path}: adapter_levels must be 'deepest' or 'all', got {config.adapter_levels!r}")
        needs = {"detector": "cue_checkpoint", "adapter": "source_checkpoint"}.get(config.stage)
        if needs and not getattr(config, needs):
            raise ConfigError(f"{path}: stage {config.stage!r} needs {needs}")
        return config

    def to_dict(self) -> dict:
        return asdict(self)
