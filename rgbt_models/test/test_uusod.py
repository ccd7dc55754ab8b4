"""UUSOD: PCL-SD and its schedule by hand, SPR exactly, the refiner on a constructed case, the
pseudo-label store, the adapter (identity at init, the only trainable part, a normal SAMSOD
checkpoint), label-free data by construction, and end-to-end runs from a bag with resume."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.config import ConfigError
from rgbt_models.data.datasets import FolderDataset
from rgbt_models.data.rosbag import BagWriter
from rgbt_models.data.synthetic import make_scene
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.samsod.domain_adapter import attach_domain_adapter
from rgbt_models.uusod import (
    HardPixelSchedule,
    PixelAffinityRefiner,
    PseudoLabelStore,
    SaliencyCueExtractor,
    SCEConfig,
    SPRWeights,
    pcl_sd_loss,
    spr_update,
)
from rgbt_models.uusod.config import AdaptConfig, HeadWeighting
from rgbt_models.uusod.data import open_unlabeled
from rgbt_models.uusod.head_weighting import border_saliency, head_weights, weight_heads

CONFIGS = Path(__file__).resolve().parents[1] / "rgbt_models" / "configs" / "uusod"
BACKBONE = BackboneConfig(name="test", image_size=64)


# -- the pieces --------------------------------------------------------------------------------------
def test_pcl_sd_by_hand_and_hard_pixels_get_no_gradient():
    schedule = HardPixelSchedule()
    assert [round(schedule.p(e, 10), 6) for e in (1, 2, 3, 5, 10)] == [0.14, 0.08, 0.02, -0.1, -0.4]
    s = torch.tensor([0.9, 0.55, 0.2, 0.45], requires_grad=True)
    p = 0.1  # 0.55 and 0.45 are hard: M = 0 there
    loss = pcl_sd_loss(s, p)
    expected = 0.5 - (abs(0.9 - 0.5) + 0.5 + abs(0.2 - 0.5) + 0.5) / 4
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert s.grad[1] == 0 and s.grad[3] == 0
    assert s.grad[0] < 0 and s.grad[2] > 0  # confident pixels are pushed further out
    assert pcl_sd_loss(torch.tensor([0.55, 0.45]), schedule.p(10, 10)).item() == pytest.approx(0.45)


def test_spr_is_the_weighted_sum_of_its_three_terms():
    refined, prediction, previous = torch.tensor([0.2, 1.0]), torch.tensor([0.6, 0.0]), torch.tensor([1.0, 0.5])
    weights = SPRWeights(refined=0.1, prediction=0.7, previous=0.2)
    assert torch.allclose(spr_update(refined, prediction, previous, weights),
                          torch.tensor([0.1 * 0.2 + 0.7 * 0.6 + 0.2 * 1.0, 0.1 * 1.0 + 0.0 + 0.2 * 0.5]))
    with pytest.raises(ValueError, match="sum to 1"):
        SPRWeights(0.5, 0.5, 0.5)


def test_the_refiner_moves_a_noisy_label_towards_the_image_edges():
    image = torch.zeros(1, 4, 48, 48)
    image[..., 12:36, 12:36] = 1.0  # a square object in RGB and thermal
    truth = image[:, :1]
    label = torch.zeros(1, 1, 48, 48)
    label[..., 8:32, 8:32] = 1.0  # the same square, shifted and blurred
    label = torch.from_numpy(cv2.GaussianBlur(label[0, 0].numpy(), (9, 9), 3))[None, None]
    refined = PixelAffinityRefiner(iterations=20)(image, label)
    before, after = (label - truth).abs().mean(), (refined - truth).abs().mean()
    assert after < 0.9 * before  # measured: 0.153 -> 0.123
    outside, missed = (..., slice(8, 12), slice(8, 32)), (..., slice(32, 36), slice(12, 36))
    assert refined[outside].mean() < label[outside].mean()  # label off the object fades
    assert refined[missed].mean() > label[missed].mean()  # object the label missed fills in


def dense_refinement(refiner, guidance, saliency):
    """The refiner's formula written out over every offset at once (the form it had before it
    was chunked): the chunked one must give the same maps."""
    import torch.nn.functional as F

    from rgbt_models.uusod.refiner import MAX_DIFFERENCE, SPREAD_FLOOR

    pad = max(refiner.dilations)
    height, width = guidance.shape[-2:]

    def near(x):
        padded = F.pad(x, [pad] * 4, mode="replicate")
        return torch.stack([padded[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]
                            for dy, dx in refiner.offsets], dim=2)

    neighbours = near(guidance)
    difference = (neighbours - guidance.unsqueeze(2)).abs() / (neighbours.std(dim=2, keepdim=True) + SPREAD_FLOOR)
    affinity = torch.softmax((-(difference.clamp(max=MAX_DIFFERENCE) / refiner.color_scale) ** 2).mean(dim=1,
                             keepdim=True), dim=2)
    weights = affinity + refiner.position_weight * refiner.position.view(1, 1, -1, 1, 1)
    weights = weights / weights.sum(dim=2, keepdim=True)
    for _ in range(refiner.iterations):
        saliency = (near(saliency) * weights).sum(dim=2)
    return saliency.clamp(0, 1)


def test_the_chunked_refiner_computes_the_dense_formula():
    generator = torch.Generator().manual_seed(0)
    guidance = torch.rand(3, 4, 40, 56, generator=generator)
    saliency = torch.rand(3, 1, 40, 56, generator=generator)
    refiner = PixelAffinityRefiner(iterations=4)
    assert torch.allclose(refiner(guidance, saliency), dense_refinement(refiner, guidance, saliency), atol=1e-5)


def test_a_flat_guidance_channel_does_not_wipe_out_the_others():
    """A thermal pixel that differs from its flat surroundings (a dead or saturated pixel) shifts
    all of its neighbours' affinities alike in that channel, so its weights must be those it has
    when the channel is flat. Unguarded (spread + 1e-8), that channel's affinity reached about
    -1e15 and float32 lost the other channels' differences: the weights came out wrong."""
    generator = torch.Generator().manual_seed(1)
    guidance = torch.rand(1, 4, 32, 32, generator=generator)
    guidance[:, 3] = 0.5
    spiked = guidance.clone()
    spiked[:, 3, 16, 16] = 0.9  # neighbours all 0.5: spread 0 around it, its centre 0.4 away
    refiner = PixelAffinityRefiner(iterations=3)
    flat_weights, spiked_weights = refiner.weights(guidance), refiner.weights(spiked)
    assert torch.isfinite(spiked_weights).all() and torch.allclose(spiked_weights.sum(dim=1), torch.ones(1, 32, 32))
    assert torch.allclose(flat_weights[..., 16, 16], spiked_weights[..., 16, 16], atol=1e-6)

    def unguarded(image):  # the formula as it was: no floor, no cap
        padded = torch.nn.functional.pad(image, [8] * 4, mode="replicate")
        near = torch.stack([padded[..., 8 + dy:8 + dy + 32, 8 + dx:8 + dx + 32] for dy, dx in refiner.offsets], 2)
        difference = (near - image.unsqueeze(2)).abs() / (near.std(dim=2, keepdim=True) + 1e-8)
        return torch.softmax((-(difference / refiner.color_scale) ** 2).mean(dim=1), dim=1)[0, :, 16, 16]

    assert not torch.allclose(unguarded(spiked), unguarded(guidance), atol=1e-2)


def test_the_refiner_fits_a_robot_batch_in_bounded_memory(tmp_path):
    """Batch 8, RGB + thermal guidance (4 channels), 512x640: peak resident memory above the
    process's start <= 1.5 GB (it took 5.2 GB when every offset of the batch was held at once)."""
    import subprocess
    import sys

    script = """
import resource, torch
from rgbt_models.uusod.refiner import PixelAffinityRefiner
torch.set_num_threads(1)
guidance, saliency = torch.rand(8, 4, 512, 640), torch.rand(8, 1, 512, 640)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
PixelAffinityRefiner(iterations=1)(guidance, saliency)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.strip()) <= 1536, result.stdout


def test_the_authors_stage_1_terms():
    """Annealed exponent (2 -> 1), texture matching (zero where the map follows the image, positive
    where it cuts through a uniform region), the SPR timing and variant pieces."""
    from rgbt_models.losses.iou import iou_loss
    from rgbt_models.uusod.config import SPRConfig
    from rgbt_models.uusod.labelling import by_maximum
    from rgbt_models.uusod.pcl_sd import annealed_exponent
    from rgbt_models.uusod.texture import texture_matching_loss

    assert (annealed_exponent(1, 10), annealed_exponent(11, 10)) == (2.0, 1.0)
    saliency = torch.tensor([0.1, 0.45, 0.9])
    squared = pcl_sd_loss(saliency, p=0.1, exponent=2.0)
    assert squared.item() == pytest.approx(((0.25 - 0.4 ** 2) + 0 + (0.25 - 0.4 ** 2)) / 3)  # 0.45: masked
    image = torch.zeros(1, 4, 64, 64)
    image[..., 16:48, 16:48] = 1.0  # an object in both modalities
    follows = image[:, :1].clone()
    cuts = torch.zeros(1, 1, 64, 64)
    cuts[..., 16:48, 16:32] = 1.0  # half the object: its edge runs through a uniform region
    assert texture_matching_loss(follows, image).item() < 1e-3 < texture_matching_loss(cuts, image).item()
    assert texture_matching_loss(torch.zeros(1, 1, 64, 64), image).item() == 0.0  # no boundary yet

    soft, authors = SPRConfig(), SPRConfig(variant="authors", start_epoch=3)
    assert [soft.rewrite_after(e, 3) for e in (1, 2, 3)] == [True, True, False]  # never after the last
    assert [authors.rewrite_after(e, 3) for e in (1, 2, 3)] == [False, True, False]
    assert not SPRConfig(enabled=False).rewrite_after(1, 3)
    with pytest.raises(ValueError, match="spr.variant"):
        SPRConfig(variant="hard")
    maps = torch.tensor([0.2, 0.4]).view(2, 1, 1, 1) * torch.ones(2, 1, 4, 4)
    assert torch.allclose(by_maximum(maps), torch.ones(2, 1, 4, 4))
    target = torch.zeros(1, 1, 8, 8)
    target[..., :4, :] = 1
    assert iou_loss(torch.where(target > 0, 20.0, -20.0), target).item() < 1e-3
    assert iou_loss(torch.where(target > 0, -20.0, 20.0), target).item() > 0.98  # (smoothing: +1 / +1)


@pytest.mark.slow
def test_pretrain_writes_a_sam2_file_that_stage_1_starts_from(tmp_path):
    """Stage 0: masked image modelling on unlabeled frames lowers its loss and writes the encoder
    in Meta's layout; the cue extractor built on that file carries exactly those weights."""
    from rgbt_models.uusod.runner import run

    config = AdaptConfig.from_yaml(config_for(tmp_path, "pretrain", output_dir=str(tmp_path / "pre"),
                                              data={"sources": ["synthetic:8:0:mixed"], "height": 64, "width": 64},
                                              train={"epochs": 3, "batch_size": 4, "seed": 0, "lr": 2e-3,
                                                     "scheduler": "constant"}))
    summary = run(config, device="cpu", progress=False)
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < losses[0], losses
    written = torch.load(tmp_path / "pre" / "sam2_pretrained.pt", weights_only=True)
    assert written["rgbt_pretrain"]["method"] == "masked image modelling"
    backbone = BackboneConfig.from_dict({**config.model["backbone"], "checkpoint": str(tmp_path / "pre" /
                                                                                      "sam2_pretrained.pt")})
    sce = SaliencyCueExtractor(SCEConfig(backbone=backbone))
    for key, value in sce.backbone.official_state_dict().items():
        assert torch.equal(value, written["model"][key]), key


@pytest.mark.slow
def test_stage_1_runs_long_enough_for_the_curriculum_to_mask_pixels(tmp_path):
    """With 4 epochs p(1) = 0.2 - 0.6 / 4 = 0.05 > 0: the first epoch masks hard pixels (with
    3 or fewer, p(1) <= 0 and the curriculum never acts); the authors' three terms all run."""
    from rgbt_models.uusod.runner import run

    config = AdaptConfig.from_yaml(config_for(tmp_path, "sce", output_dir=str(tmp_path / "sce"),
                                              data={"sources": ["synthetic:4:0:mixed"], "height": 64, "width": 64},
                                              train={"epochs": 4, "batch_size": 4, "seed": 0, "lr": 1e-3,
                                                     "scheduler": "constant"}))
    assert config.stage1.texture_weight > 0 and config.stage1.consistency_weight > 0
    history = run(config, device="cpu", progress=False)["history"]
    assert [round(h["p"], 2) for h in history] == [0.05, -0.1, -0.25, -0.4]
    assert history[0]["hard_pixels"] > 0 and history[1]["hard_pixels"] == 0
    assert all(np.isfinite(h["loss"]) for h in history)


def test_the_boundary_prior_trusts_the_head_that_leaves_the_border_alone():
    blob = torch.zeros(2, 1, 50, 50)
    blob[..., 20:30, 20:30] = 1.0
    ring = torch.ones(2, 1, 50, 50)
    ring[..., 3:47, 3:47] = 0.0
    assert border_saliency(blob, 0.06).tolist() == [0.0, 0.0]  # band: round(0.06 * 50) = 3 px
    assert border_saliency(ring, 0.06).tolist() == [1.0, 1.0]
    logit = lambda p: torch.logit(p.clamp(0.01, 0.99))  # noqa: E731
    sound, broken = logit(blob), logit(1 - blob)  # a head inverted by, e.g., a black-hot camera
    label = weight_heads({"fused": broken, "rgb": sound, "thermal": broken}, HeadWeighting())
    assert torch.allclose(label, torch.sigmoid(sound), atol=2e-3)  # scores 0.14 and 0.51: weight e^-7.4 each
    summed = weight_heads({"fused": broken, "rgb": sound, "thermal": broken}, HeadWeighting("sum"))
    assert torch.equal(summed, torch.sigmoid(broken + sound + broken))  # the model's own prediction
    weaker = sound.clone()
    weaker[..., 20:30, 20:30] = logit(torch.tensor(0.7))  # less sure about the object, same border
    weights = head_weights(torch.sigmoid(torch.stack([sound, weaker, sound])), HeadWeighting())
    assert torch.allclose(weights[0], weights[2]) and (weights[1] < weights[0]).all() and (weights[1] > 0.1).all()
    assert torch.equal(weight_heads({"rgb": broken}, HeadWeighting()), torch.sigmoid(broken))  # one head
    with pytest.raises(ValueError, match="heads.mode"):
        HeadWeighting("median")


def test_the_boundary_prior_gives_a_blank_head_no_weight():
    """Two heads see the object through a little border haze (0.03), the third sees nothing: the
    label inside the object must stay the seeing heads' (it fell to 0.31 when a clean border
    alone won)."""
    logit = lambda p: torch.logit(p.clamp(0.01, 0.99))  # noqa: E731
    seen = torch.full((1, 1, 50, 50), 0.03)
    seen[..., 18:32, 18:32] = 0.9
    blank = torch.full((1, 1, 50, 50), 0.01)
    label = weight_heads({"fused": logit(seen), "rgb": logit(seen), "thermal": logit(blank)}, HeadWeighting())
    assert label[..., 18:32, 18:32].min() >= 0.89
    weights = head_weights(torch.stack([seen, seen, blank]), HeadWeighting())
    assert weights[2].item() == 0.0 and torch.allclose(weights[0], weights[1])
    nobody = weight_heads({"rgb": logit(blank), "thermal": logit(blank * 2)}, HeadWeighting())
    assert torch.allclose(nobody, (blank + blank * 2) / 2, atol=1e-4)  # no head sees anything: the mean


def test_the_boundary_prior_does_not_punish_an_object_touching_the_border():
    """A vehicle entering from the left edge, seen by every head (the border salient where it
    touches): the heads keep equal weight, and a blank head does not take over."""
    logit = lambda p: torch.logit(p.clamp(0.01, 0.99))  # noqa: E731
    entering = torch.full((1, 1, 50, 50), 0.02)
    entering[..., 15:35, 0:20] = 0.95
    blank = torch.full((1, 1, 50, 50), 0.02)
    weights = head_weights(torch.stack([entering, entering, entering]), HeadWeighting())
    assert torch.allclose(weights, torch.full_like(weights, 1 / 3))
    label = weight_heads({"fused": logit(entering), "rgb": logit(entering), "thermal": logit(blank)},
                         HeadWeighting())
    assert label[..., 15:35, 0:20].min() >= 0.94


def test_a_bad_heads_setting_is_refused_when_the_config_is_read(tmp_path):
    config = tmp_path / "adapt.yaml"
    config.write_text("stage: adapter\nsource_checkpoint: x.pt\nheads: {mode: boundary, band: 0.7}\n")
    with pytest.raises(ConfigError, match=f"{config}: heads.band must be in"):
        AdaptConfig.from_yaml(config)
    config.write_text("stage: adapter\nsource_checkpoint: x.pt\nheads: {mode: sum}\n")
    assert AdaptConfig.from_yaml(config).heads == HeadWeighting(mode="sum")  # a typed section, defaults filled in


def test_pseudo_label_store_round_trip_atomic_and_resumable(tmp_path):
    store = PseudoLabelStore(tmp_path / "labels")
    values = np.random.default_rng(0).random((24, 32)).astype(np.float32)
    store.write("bag_123/frame", values)
    assert "bag_123/frame" in store and len(store) == 1
    assert np.abs(store.read("bag_123/frame") - values).max() < 1e-4
    (tmp_path / "labels" / ".x.abc.tmp").write_bytes(b"half")  # a write a kill interrupted
    again = PseudoLabelStore(tmp_path / "labels")
    assert not list((tmp_path / "labels").glob(".*.tmp")) and np.allclose(again.read("bag_123/frame"),
                                                                         store.read("bag_123/frame"))


@pytest.mark.parametrize("all_levels", [False, True])
def test_the_adapter_is_identity_at_init_and_the_only_trainable_part(tmp_path, all_levels):
    torch.manual_seed(0)
    source = SAMSOD(SAMSODConfig(backbone=BACKBONE)).eval()
    adapted, trainable = attach_domain_adapter(source, 16, all_levels)
    adapted.eval()
    rgb, thermal = torch.rand(2, 3, 64, 96), torch.rand(2, 1, 64, 96)
    with torch.no_grad():
        assert torch.equal(adapted.predict(rgb, thermal), source.predict(rgb, thermal))
        assert torch.equal(adapted.predict(rgb, None), source.predict(rgb, None))
    adapters = {"domain_adapter": adapted.domain_adapter,
                **({"level_adapters": adapted.level_adapters} if all_levels else {})}
    assert (adapted.level_adapters is not None) == all_levels
    names = {n for n, p in adapted.named_parameters() if p.requires_grad}
    assert names == {n for prefix, module in adapters.items() for n, _ in module.named_parameters(prefix=prefix)}
    assert {id(p) for p in trainable} == {id(p) for module in adapters.values() for p in module.parameters()}
    adapted.save(tmp_path / "adapted.pt")
    from rgbt_models.runtime import load_model

    loaded = load_model("samsod", tmp_path / "adapted.pt")  # what the node / eval / export use
    with torch.no_grad():
        assert torch.equal(loaded.predict(rgb, thermal), adapted.predict(rgb, thermal))


def test_the_unlabeled_path_never_opens_a_label_file(tmp_path, monkeypatch):
    for folder, kind in (("rgb", "rgb"), ("thermal", "t"), ("labels", "l"), ("masks", "m")):
        (tmp_path / folder).mkdir()
        for i in range(2):
            scene = make_scene(i, 32, 40)
            image = {"rgb": scene.rgb, "t": scene.thermal, "l": scene.label, "m": scene.saliency}[kind]
            cv2.imwrite(str(tmp_path / folder / f"f{i}.png"), image)
    opened: list[str] = []
    real_imread = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda path, *a: opened.append(str(path)) or real_imread(path, *a))
    real_iterdir = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: opened.append(str(self)) or real_iterdir(self))
    loader = open_unlabeled(f"folder:{tmp_path}", 32, 32)
    assert isinstance(loader, FolderDataset) and loader.task is None  # the labelled loader, labels off
    samples = [loader[i] for i in range(len(loader))]
    assert all(s.label is None and s.mask is None for s in samples)
    assert opened and not [p for p in opened if "labels" in p or "masks" in p]


# -- end to end ------------------------------------------------------------------------------------
def write_bag(path: Path, frames: int = 8) -> None:
    with BagWriter(path, "mcap") as writer:
        for i in range(frames):
            scene = make_scene(40 + i, 96, 128)
            stamp = (i + 1) * 100_000_000
            writer.write_image("/cam/rgb", scene.rgb, "rgb8", stamp)
            writer.write_image("/cam/thermal", scene.thermal_raw, "mono16", stamp)


def adapt(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rgbt_models.cli.adapt", *args, "--no-progress"],
                          capture_output=True, text=True, timeout=600, **kwargs)


def config_for(tmp_path: Path, stage: str, **changes) -> Path:
    import yaml

    content = yaml.safe_load((CONFIGS / f"{stage}_test.yaml").read_text())
    content.update(changes)
    path = tmp_path / f"{stage}_{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def killed_and_resumed_detector(tmp_path: Path):
    """An SCE, then a detector run killed after its first saved epoch and resumed, and the same
    run uninterrupted beside it: (its epoch at the kill, its labels then, the resumed run's
    stderr, the uninterrupted process)."""
    from rgbt_models.cli.adapt import main as adapt_in_process  # the cue model is not the subject: no process start

    plain = {"exponent_annealing": False, "texture_weight": 0.0, "consistency_weight": 0.0}
    assert adapt_in_process(["sce", "--config", str(config_for(tmp_path, "sce", output_dir=str(tmp_path / "sce"),
                                                                stage1=plain)), "--no-progress"]) == 0
    train = {"epochs": 3, "batch_size": 4, "seed": 0, "scheduler": "constant", "lr": 1e-3}
    config = str(config_for(tmp_path, "detector", cue_checkpoint=str(tmp_path / "sce" / "sce.pt"),
                            output_dir=str(tmp_path / "det"), train=train))
    whole = str(config_for(tmp_path, "detector", cue_checkpoint=str(tmp_path / "sce" / "sce.pt"),
                           output_dir=str(tmp_path / "whole"), train=train))
    uninterrupted = subprocess.Popen([sys.executable, "-m", "rgbt_models.cli.adapt", "detector", "--config", whole,
                                      "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    process = subprocess.Popen([sys.executable, "-m", "rgbt_models.cli.adapt", "detector", "--config", config,
                                "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (tmp_path / "det" / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    epoch = torch.load(tmp_path / "det" / "last.pt", weights_only=True)["epoch"]
    labels = {p.name: p.read_bytes() for p in (tmp_path / "det" / "pseudo_labels").glob("*.png")}
    resumed = adapt("detector", "--config", config, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    return epoch, labels, resumed.stderr, uninterrupted


@pytest.mark.bench
def test_a_killed_detector_run_resumes_and_ends_as_an_uninterrupted_run(tmp_path):
    """Killed after its first saved epoch and resumed with the labels it had: the labels (rewritten
    by SPR after epochs 1 and 2) and the weights end as in one uninterrupted run beside it (PCGrad's
    task order is saved in last.pt with the rest). In make bench (two runs, about 30 s): make test
    kills and resumes the same training loop in rgbt_models/test/test_cli.py."""
    epoch, labels, stderr, uninterrupted = killed_and_resumed_detector(tmp_path)
    assert len(labels) == 16  # every frame's pseudo-label was on disk at the kill
    assert f"resumed from {tmp_path / 'det' / 'last.pt'} after epoch {epoch + 1}" in stderr
    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.stderr.read()[-2000:]
    final = {p.name: p.read_bytes() for p in (tmp_path / "det" / "pseudo_labels").glob("*.png")}
    reference = {p.name: p.read_bytes() for p in (tmp_path / "whole" / "pseudo_labels").glob("*.png")}
    assert final.keys() == labels.keys() and final == reference
    ours, theirs = (torch.load(tmp_path / run / "last.pt", weights_only=True) for run in ("det", "whole"))
    assert ours["epoch"] == theirs["epoch"] == 2
    assert ours["model"].keys() == theirs["model"].keys()
    assert all(torch.equal(ours["model"][k], theirs["model"][k]) for k in ours["model"])


def test_errors_are_one_line(tmp_path, capsys):
    bag = tmp_path / "bag"
    write_bag(bag, 2)
    cases = [(config_for(tmp_path, "sce", data={"sources": [f"bag:{bag}:/nope:/cam/thermal"]}), "sce",
              "/nope"),
             (config_for(tmp_path, "adapter", source_checkpoint=str(tmp_path / "missing.pt")), "adapter",
              "missing.pt: checkpoint file not found")]
    empty = tmp_path / "empty_bag"
    with BagWriter(empty, "mcap"):
        pass
    cases.append((config_for(tmp_path, "sce", data={"sources": [f"bag:{empty}:/cam/rgb:/cam/thermal"]}), "sce",
                  "not in the bag"))
    sce_file = tmp_path / "sce.pt"
    SaliencyCueExtractor(SCEConfig(backbone=BACKBONE)).save(sce_file)
    cases.append((config_for(tmp_path, "adapter", source_checkpoint=str(sce_file)), "adapter",
                  "holds a 'sce' model, expected 'samsod'"))
    from rgbt_models.cli.adapt import main as adapt_in_process  # the same entry, without a process start each

    for config, stage, text in cases:
        capsys.readouterr()
        code = adapt_in_process([stage, "--config", str(config), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and text in err and "Traceback" not in err, err


def test_adapting_at_another_size_than_the_source_was_trained_at_is_said(tmp_path, caplog):
    import logging

    from rgbt_models.uusod.stages import AdapterStage

    torch.manual_seed(0)
    source = SAMSOD(SAMSODConfig(backbone=BACKBONE))
    stage = AdapterStage.__new__(AdapterStage)  # build() alone: no data set needed
    stage.config = AdaptConfig.from_yaml(config_for(tmp_path, "adapter", source_checkpoint=str(tmp_path / "s.pt")))
    size = [stage.config.data.height, stage.config.data.width]
    for trained, warned in ((size, False), ([size[0] + 32, size[1]], True)):
        source.save(tmp_path / "s.pt", extra={"input_size": trained})
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rgbt_models.uusod"):
            stage.build()
        said = f"was trained at ({trained[0]}x{trained[1]})"
        assert any(said in r.getMessage() for r in caplog.records) == warned, (trained, caplog.records)


@pytest.mark.slow
def test_a_second_fresh_run_in_the_same_folder_ends_as_the_first(tmp_path, caplog):
    """`make demo-adapt` twice: without --resume the second run starts from fresh first labels,
    not from the labels SPR rewrote during the first, so it ends with the same labels and weights;
    it says that it replaces the first run's checkpoints."""
    from rgbt_models.cli.adapt import main as adapt_in_process

    torch.manual_seed(0)
    SAMSOD(SAMSODConfig(backbone=BACKBONE)).save(tmp_path / "source.pt")
    config = str(config_for(tmp_path, "adapter", source_checkpoint=str(tmp_path / "source.pt"),
                            output_dir=str(tmp_path / "adapt")))
    runs = []
    for _ in range(2):
        assert adapt_in_process(["adapter", "--config", config, "--no-progress"]) == 0
        labels = {p.name: p.read_bytes() for p in (tmp_path / "adapt" / "pseudo_labels").glob("*.png")}
        runs.append((labels, torch.load(tmp_path / "adapt" / "last.pt", weights_only=True)["model"]))
    (first_labels, first_model), (second_labels, second_model) = runs
    replaced = [r for r in caplog.records if "holds an earlier run: this one replaces its checkpoints" in r.message]
    assert len(replaced) == 1 and replaced[0].levelname == "WARNING"
    assert len(first_labels) == 16 and first_labels == second_labels
    assert all(torch.equal(first_model[k], second_model[k]) for k in first_model)
