"""python -m rgbt_models.data.drive: the synthetic recording the guides try the tools on. A second
guide in the same folder runs the same command: the drive is kept, not refused or rewritten."""

import pytest
from rosbags.highlevel import AnyReader

from rgbt_models.data.drive import SETTINGS_FILE, DriveConfig, main

SMALL = ["--seconds", "0.4", "--fps", "5", "--size", "64x96"]


def test_the_drive_is_a_bag_with_its_settings_beside_it(tmp_path, capsys):
    assert main([str(tmp_path / "drive"), *SMALL]) == 0
    assert "wrote" in capsys.readouterr().out
    with AnyReader([tmp_path / "drive"]) as bag:
        counts = {c.topic: c.msgcount for c in bag.connections}
    assert counts[DriveConfig.rgb_topic] == counts[DriveConfig.thermal_topic] == 2
    assert (tmp_path / "drive" / SETTINGS_FILE).is_file()


def test_the_same_command_again_keeps_the_drive(tmp_path, capsys):
    assert main([str(tmp_path / "drive"), *SMALL]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "drive").iterdir()}
    capsys.readouterr()
    assert main([str(tmp_path / "drive"), *SMALL]) == 0
    assert "already holds this drive" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "drive").iterdir()} == before


@pytest.mark.parametrize("other", [["--seed", "12345"], ["--misregistered"]])
def test_another_drive_or_a_folder_of_something_else_is_refused(tmp_path, capsys, other):
    assert main([str(tmp_path / "drive"), *SMALL]) == 0
    with pytest.raises(SystemExit) as refused:
        main([str(tmp_path / "drive"), *SMALL, *other])
    assert refused.value.code == 2 and "drive exists and is not this drive" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    with pytest.raises(SystemExit):
        main([str(tmp_path / "mine"), *SMALL])
