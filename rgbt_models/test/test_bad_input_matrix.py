"""Bad input of the model library and its command lines: every case is a clear one-line error
naming the file (or a BadImage with the reason), never a traceback; nothing written is lost.

Covers: a fuzzed image decoder, thermal at the float limits, every checkpoint entry point
(eval, export, the node's/replay's loader, train --resume) with missing, empty, truncated,
random-bytes, plain state_dict, other-model and newer-format files, and the temporaries an
interrupted save leaves."""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.checkpoint import CheckpointError, atomic_torch_save, remove_stale_temporaries
from rgbt_models.cli.evaluate import main as evaluate_cli
from rgbt_models.cli.export import main as export_cli
from rgbt_models.data.image_codec import THERMAL_ENCODINGS, BadImage, has_finite_pixel, image_to_array
from rgbt_models.data.thermal import normalize_thermal
from rgbt_models.runtime import load_model
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig

CONFIGS = Path(__file__).resolve().parents[1] / "rgbt_models" / "configs" / "train"
ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "16UC1", "32FC1", "yuv422", "", "8UC3")


# -- the image decoder -------------------------------------------------------------------------------
def test_fuzzed_image_messages_decode_or_raise_bad_image():
    rng = np.random.default_rng(0)
    decoded = rejected = 0
    for _ in range(3000):
        height, width = (int(v) for v in rng.integers(-2, 12, 2))
        encoding = str(rng.choice(ENCODINGS))
        step = int(rng.integers(-3, 60))
        data = rng.integers(0, 256, int(rng.integers(0, 700)), dtype=np.uint8).tobytes()
        msg = types.SimpleNamespace(height=height, width=width, step=step, encoding=encoding,
                                    is_bigendian=int(rng.integers(0, 3)), data=data)
        try:
            image = image_to_array(msg, ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", *THERMAL_ENCODINGS))
            if encoding == "32FC1":
                has_finite_pixel(msg)
        except BadImage:
            rejected += 1
            continue
        decoded += 1
        assert image.shape[:2] == (height, width)
    assert decoded > 50 and rejected > 1000


@pytest.mark.parametrize(("step", "length"), [(1281, 1281 * 4), (1280, 1280 * 4 + 3), (1283, 1283 * 4 + 1)])
def test_32fc1_with_odd_step_or_trailing_bytes_decodes_row_by_row(step, length):
    """A row stride that is no multiple of 4 (the floats unaligned) or bytes after the last row:
    each row's 320 floats are read from its own offset, the padding ignored."""
    values = np.arange(4 * 320, dtype=np.float32).reshape(4, 320) + 0.25
    data = np.full(length, 0xFF, np.uint8)  # padding bytes that would read as NaN
    for row in range(4):
        data[row * step:row * step + 1280] = np.frombuffer(values[row].tobytes(), np.uint8)
    msg = types.SimpleNamespace(height=4, width=320, step=step, encoding="32FC1", is_bigendian=0,
                                data=data.tobytes())
    assert has_finite_pixel(msg)
    np.testing.assert_array_equal(image_to_array(msg, ("32FC1",)), values)


def test_thermal_at_the_float_limits_normalises_to_finite_values():
    image = np.array([[-3e38, 0.0], [3e38, np.nan]], np.float32)
    for mode in ("minmax", "percentile"):
        out = normalize_thermal(image, mode)
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="not finite"):
        normalize_thermal(image, "fixed", (-np.inf, 1.0))


# -- checkpoints ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    backbone = BackboneConfig(name="test", image_size=64)
    good = folder / "samsod.pt"
    SAMSOD(SAMSODConfig(backbone=backbone)).save(good)
    other = folder / "sartm.pt"
    SARTM(SARTMConfig(backbone=backbone, classes="synthetic", lora_rank=2), torch.zeros(4, 1)).save(other)
    files = {"missing": folder / "nope.pt", "other model": other}
    files["empty"] = folder / "empty.pt"
    files["empty"].write_bytes(b"")
    files["truncated"] = folder / "truncated.pt"
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["random bytes"] = folder / "random.pt"
    files["random bytes"].write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    files["plain state_dict"] = folder / "state_dict.pt"
    torch.save(SAMSOD(SAMSODConfig(backbone=backbone)).state_dict(), files["plain state_dict"])
    newer = torch.load(good, weights_only=True)
    newer["version"] = 99
    files["newer format"] = folder / "newer.pt"
    torch.save(newer, files["newer format"])
    return files


EXPECTED = {"missing": "not found", "empty": "empty (0 bytes)", "truncated": "cut short or damaged",
            "random bytes": "not a readable PyTorch checkpoint", "plain state_dict": "a plain state_dict",
            "newer format": "written by a newer rgbt_models", "other model": "holds a 'sartm' model"}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_every_checkpoint_entry_point_names_the_file_and_the_problem(case, bad_checkpoints, tmp_path, capsys):
    from rgbt_models.runtime.loading import ModelLoadError

    path = bad_checkpoints[case]
    with pytest.raises(ModelLoadError) as error:  # the node and rgbt-replay
        load_model("samsod", str(path), "", False)
    assert str(path) in str(error.value) and EXPECTED[case] in str(error.value)
    if case != "other model":  # eval and export take either model
        with pytest.raises(CheckpointError, match=re.escape(EXPECTED[case])):
            load_model(None, path)
        for cli in (evaluate_cli, export_cli):
            code = cli(["--checkpoint", str(path), *(["--dataset", "synthetic"] if cli is evaluate_cli else []),
                        "--output", str(tmp_path / "out")])
            err = capsys.readouterr().err
            assert code == 2 and str(path) in err and EXPECTED[case] in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("case", ["empty", "random bytes", "plain state_dict"])
def test_train_resume_from_a_bad_state_is_one_line(case, bad_checkpoints, tmp_path, capsys):
    from rgbt_models.cli.train import main as train_cli

    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(bad_checkpoints[case].read_bytes())
    (run / ".last.pt.x1y2.tmp").write_bytes(b"half a checkpoint")  # an interrupted save
    code = train_cli(["samsod", "--config", str(CONFIGS / "samsod_test.yaml"), "--output-dir", str(run),
                      "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and str(run / "last.pt") in err and "Traceback" not in err
    assert not (run / ".last.pt.x1y2.tmp").exists()  # cleaned up on start
    assert (run / "last.pt").read_bytes() == bad_checkpoints[case].read_bytes()  # nothing written is lost


def test_interrupted_saves_leave_nothing_once_cleaned(tmp_path):
    atomic_torch_save({"a": torch.zeros(1)}, tmp_path / "best.pt")
    (tmp_path / ".best.pt.abc.tmp").write_bytes(b"")
    (tmp_path / "notes.tmp").write_text("not ours")
    assert remove_stale_temporaries(tmp_path) == [tmp_path / ".best.pt.abc.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "notes.tmp"]
