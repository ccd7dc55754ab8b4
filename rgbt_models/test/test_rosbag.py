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


# -- bags cut by a power loss, a full disk or a killed recorder ---------------------------------------
def write_long_bag(path, count=24):
    """An mcap bag of 128x160 frames large enough for several of rosbags' 1 MiB chunks."""
    scenes = [make_scene(i) for i in range(4)]
    with BagWriter(path, "mcap") as writer:
        for i in range(count):
            stamp = 10**9 + i * 100 * MS
            writer.write_image("/cam/rgb", scenes[i % 4].rgb, "rgb8", stamp)
            writer.write_image("/cam/thermal", scenes[i % 4].thermal_raw, "mono16", stamp)
    return next(path.glob("*.mcap"))


@pytest.mark.parametrize("metadata", ["kept", "lost"])
def test_a_cut_mcap_is_read_up_to_its_last_complete_message(tmp_path, caplog, metadata):
    mcap = write_long_bag(tmp_path / "bag")
    whole = list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.7)])  # no footer, no summary, half a chunk at the end
    if metadata == "lost":
        (tmp_path / "bag" / "metadata.yaml").unlink()
    counters = {}
    pairs = list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal", counters=counters))
    assert 0 < len(pairs) < len(whole)
    assert [p.stamp_ns for p in pairs] == [p.stamp_ns for p in whole[: len(pairs)]]  # a prefix, in order
    assert counters["recovered_messages"] == counters["rgb"] + counters["thermal"]
    (line,) = [r.getMessage() for r in caplog.records if r.name == "rgbt_models.bag"]
    assert "bag: the bag is truncated" in line and f"recovered {counters['recovered_messages']} complete" in line
    dataset = BagDataset(tmp_path / "bag", "/cam/rgb", "/cam/thermal")  # the data set reads it as well
    assert len(dataset) == len(pairs) and dataset[0].rgb.shape == (128, 160, 3)


def test_an_mcap_file_given_alone_and_cut_is_read(tmp_path):
    mcap = write_long_bag(tmp_path / "bag", count=16)
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) - 100])
    assert list(read_pairs(mcap, "/cam/rgb", "/cam/thermal"))


def test_a_sqlite3_bag_without_metadata_is_read_as_reindex_would(tmp_path, caplog):
    write_bag(tmp_path / "bag", "sqlite3", thermal_offset_ms=(0,) * 6)
    (tmp_path / "bag" / "metadata.yaml").unlink()
    assert len(list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal"))) == 6
    (line,) = [r.getMessage() for r in caplog.records if r.name == "rgbt_models.bag"]
    assert "no usable metadata.yaml; recovered 18 complete message(s) from bag.db3" in line


@pytest.mark.parametrize("keep", [0, 5, 12, 200_000])
def test_a_bag_cut_before_its_first_message_is_one_line(tmp_path, keep):
    mcap = write_long_bag(tmp_path / "bag", count=16)
    mcap.write_bytes(mcap.read_bytes()[:keep])
    with pytest.raises(DatasetError) as caught:
        list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal"))
    message = str(caught.value)
    assert str(tmp_path / "bag") in message and "\n" not in message
    assert ("nothing to recover" in message or "no complete message to recover" in message
            or "seems to be empty" in message), message
