"""Which bags rgbt-replay's BAG arguments name (rgbt_perception/replay/plan.py): a bag, a folder
of bags in any mix, a glob; each bag once."""

from pathlib import Path

import pytest

from rgbt_models.data.sample import DatasetError
from rgbt_perception.replay.plan import expand_bags, is_bag


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_a_folder_with_metadata_is_one_bag(tmp_path):
    touch(tmp_path / "drive" / "metadata.yaml")
    touch(tmp_path / "drive" / "drive_0.mcap")
    touch(tmp_path / "drive" / "drive_1.mcap")
    assert expand_bags([str(tmp_path / "drive")]) == [str(tmp_path / "drive")]


def test_a_cut_recording_without_metadata_is_one_bag(tmp_path):
    """ros2 bag record killed before it wrote metadata.yaml leaves NAME_0.mcap, NAME_1.mcap, ..."""
    for index in range(3):
        touch(tmp_path / "rosbag2_2026_12_07" / f"rosbag2_2026_12_07_{index}.mcap")
    assert is_bag(tmp_path / "rosbag2_2026_12_07")
    assert expand_bags([str(tmp_path / "rosbag2_2026_12_07")]) == [str(tmp_path / "rosbag2_2026_12_07")]


def test_a_folder_of_a_bag_folder_and_loose_files_is_each_of_them(tmp_path):
    fleet = tmp_path / "fleet"
    touch(fleet / "rover1" / "metadata.yaml")
    touch(fleet / "rover1" / "rover1_0.mcap")
    touch(fleet / "solo.mcap")
    touch(fleet / "old.db3")
    touch(fleet / "notes.txt")
    assert not is_bag(fleet)
    assert expand_bags([str(fleet)]) == [str(fleet / name) for name in ("old.db3", "rover1", "solo.mcap")]


def test_a_folder_of_loose_files_of_several_recordings_is_each_of_them(tmp_path):
    for name in ("monday.mcap", "tuesday.mcap"):
        touch(tmp_path / "week" / name)
    assert not is_bag(tmp_path / "week")
    week = tmp_path / "week"
    assert expand_bags([str(week)]) == [str(week / "monday.mcap"), str(week / "tuesday.mcap")]


def test_globs_and_repeats_give_each_bag_once_in_the_order_given(tmp_path):
    for name in ("b.mcap", "a.mcap", "c.db3"):
        touch(tmp_path / name)
    found = expand_bags([str(tmp_path / "c.db3"), str(tmp_path / "*.mcap"), str(tmp_path / "a.mcap")])
    assert found == [str(tmp_path / name) for name in ("c.db3", "a.mcap", "b.mcap")]


def test_what_names_no_bag_is_refused_with_its_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no rosbag2 bags in this folder"):
        expand_bags([str(tmp_path / "empty")])
    with pytest.raises(DatasetError, match="missing.mcap: bag not found"):
        expand_bags([str(tmp_path / "missing.mcap")])


def test_topics_lists_each_bags_topics_types_and_counts_as_ros2_bag_info(tmp_path, capsys):
    from rgbt_models.data.drive import DriveConfig, write_drive_bag
    from rgbt_perception.replay import main as replay

    drive = DriveConfig(seconds=0.3, fps=10, height=32, width=32, dropout=None, thermal_fps=5)
    write_drive_bag(tmp_path / "fleet" / "a", drive, "mcap")
    write_drive_bag(tmp_path / "fleet" / "b", drive, "sqlite3")
    assert replay([str(tmp_path / "fleet"), "--topics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(tmp_path / "fleet" / "a") and lines[5] == str(tmp_path / "fleet" / "b")
    listed = {tuple(line.split()) for line in lines[1:5]}
    assert (drive.rgb_topic, "sensor_msgs/msg/Image", "3", "messages") in listed
    assert (drive.thermal_topic, "sensor_msgs/msg/Image", "2", "messages") in listed
    assert replay([str(tmp_path / "nothing"), "--topics"]) == 2
