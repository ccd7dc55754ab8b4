"""rgbt_models/checkpoint.py: atomic writes and the one-line reasons a file cannot be read."""

import os
import stat

import pytest
import torch

from rgbt_models.checkpoint import CheckpointError, atomic_torch_save, atomic_write, first_sentences, read_checkpoint


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_written_file_has_the_permissions_open_would_give_it(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write(tmp_path / "model.pt", lambda handle: handle.write(b"x"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.pt").stat().st_mode) == 0o666 & ~umask


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"old")

    def fails(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fails)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_truncated_checkpoint_is_named_as_cut_short(tmp_path):
    whole = tmp_path / "whole.pt"
    atomic_torch_save({"weights": torch.arange(10_000.0)}, whole)
    assert torch.equal(read_checkpoint(whole)["weights"], torch.arange(10_000.0))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"cut.pt: cut short or damaged \(5000 bytes; .*copy or download it"):
        read_checkpoint(cut)


def test_an_error_is_shortened_to_whole_sentences_or_a_whole_word():
    assert first_sentences("One. Two.\nmore lines") == "One. Two."
    assert first_sentences("First sentence here. " + "x " * 200, limit=40) == "First sentence here."
    assert first_sentences("word " * 100, limit=23) == "word word word word ..."
