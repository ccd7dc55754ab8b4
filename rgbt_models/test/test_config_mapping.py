"""One way from a mapping to a config: every config dataclass, its sections named in errors."""

from __future__ import annotations

import pytest

from rgbt_models.backbone import BackboneConfig
from rgbt_models.config import ConfigError, read_config
from rgbt_models.samsod import SAMSODConfig
from rgbt_models.sartm import SARTMConfig
from rgbt_models.training.config import TrainConfig
from rgbt_models.uusod.config import AdaptConfig, SPRConfig
from rgbt_models.uusod.cue_extractor import SCEConfig


@pytest.mark.parametrize("cls", [BackboneConfig, SAMSODConfig, SARTMConfig, SCEConfig])
def test_a_model_config_round_trips_through_its_mapping(cls):
    config = cls.from_dict({})
    assert cls.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(("cls", "values", "named"), [
    (BackboneConfig, {"nmae": "tiny"}, "unknown option(s) in backbone: ['nmae']"),
    (SAMSODConfig, {"backbone": {"nmae": "tiny"}}, "unknown option(s) in samsod model.backbone: ['nmae']"),
    (SAMSODConfig, {"adapter": {"bottelneck": 8}}, "unknown option(s) in samsod model.adapter: ['bottelneck']"),
    (SARTMConfig, {"loss": {"presett": "ours"}}, "unknown option(s) in sartm model.loss"),
    (SCEConfig, {"mode": "psychic"}, "sce model: sce mode must be one of"),
])
def test_a_bad_key_or_value_is_named_by_its_section(cls, values, named):
    with pytest.raises(ConfigError) as error:
        cls.from_dict(values)
    assert named in str(error.value)


def test_sections_are_built_from_mappings_in_files_and_in_code(tmp_path):
    path = tmp_path / "adapt.yaml"
    path.write_text("stage: sce\nspr: {enabled: false}\ndata: {sources: ['synthetic:4']}\n")
    from_file = read_config(path, AdaptConfig)
    in_code = AdaptConfig(stage="sce", spr={"enabled": False}, data={"sources": ["synthetic:4"]})
    assert isinstance(in_code.spr, SPRConfig) and from_file == in_code
    path.write_text("task: samsod\ntrain: {epocs: 2}\n")
    with pytest.raises(ConfigError, match=r"train.yaml: unknown option\(s\) in train: \['epocs'\]"):
        TrainConfig.from_yaml(path.rename(tmp_path / "train.yaml"))
    assert SARTMConfig.from_dict({"loss": "paper"}).loss.preset == "paper"  # a preset name, through from_value
