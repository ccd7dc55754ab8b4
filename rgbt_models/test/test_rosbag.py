"""rosbag2 reading and writing without ROS (mcap and sqlite3), with the node's pairing rule."""

from __future__ import annotations

import numpy as np
import pytest

from rgbt_models.data.datasets import DatasetError
from rgbt_models.data.rosbag import BagDataset, BagWriter, read_pairs
from rgbt_models.data.synthetic import make_scene

MS = 1_000_000


def write_bag(path, storage, count=6, thermal_offset_ms=(2, -3, 4, 60, 1, 0)):
    scenes = [make_scene(i) for i in range(count)]
    with BagWriter(path, storage) as writer:
        for i, scene in enumerate(scenes):
            stamp = 10**9 + i * 100 * MS
            writer.write_image("/cam/rgb", scene.rgb, "rgb8", stamp, "rgb_optical")
            thermal_stamp = stamp + thermal_offset_ms[i] * MS
            writer.write_image("/cam/thermal", scene.thermal_raw, "mono16", thermal_stamp, "thermal")
            writer.write_image("/gt/label", scene.label, "mono8", stamp)
    return scenes


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_pairs_within_slop_round_trip(tmp_path, storage):
    scenes = write_bag(tmp_path / "bag", storage)
    counters = {}
    pairs = list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal", slop=0.05, truth_topics=("/gt/label",),
                            counters=counters))
    # Frame 3's thermal is 60 ms late: beyond the 50 ms slop, so it is not paired.
    assert [(p.stamp_ns - 10**9) // (100 * MS) for p in pairs] == [0, 1, 2, 4, 5]
    assert counters["rgb"] == counters["thermal"] == 6 and counters["pairs"] == 5
    dataset = BagDataset(tmp_path / "bag", "/cam/rgb", "/cam/thermal", label_topic="/gt/label")
    sample = dataset[1]
    assert np.array_equal(sample.rgb, scenes[1].rgb)
    assert np.array_equal(sample.thermal, scenes[1].thermal_raw)
    assert np.array_equal(sample.label, scenes[1].label)


def test_missing_topic_names_the_bag_and_its_topics(tmp_path):
    write_bag(tmp_path / "bag", "mcap", count=2)
    with pytest.raises(DatasetError, match=r"bag: topic\(s\) \['/nope'\] not in the bag .*/cam/rgb"):
        list(read_pairs(tmp_path / "bag", "/nope", "/cam/thermal"))
