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
    with pytest.raises(DatasetError, match=r"carry a leading slash: cam/rgb -> /cam/rgb$"):
        list(read_pairs(tmp_path / "bag", "cam/rgb", "/cam/thermal"))


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


HEADER_CUT = "bag.mcap: cut inside its mcap header or not an mcap file, nothing to recover"
NO_MESSAGE = ("cannot be read as a rosbag2 bag (AnyReaderError: File end magic is invalid.), and its storage "
              "files hold no complete message to recover")


@pytest.mark.parametrize(("keep", "expected"), [
    (0, HEADER_CUT + " (not an mcap file (no magic at its start))"),
    (5, HEADER_CUT + " (not an mcap file (no magic at its start))"),
    (12, HEADER_CUT + " (Truncated record at offset 9: expected 8 bytes, got 3.)"),
    (200_000, NO_MESSAGE),  # past the header, before the end of the first chunk
])
def test_a_bag_cut_before_its_first_message_is_one_line(tmp_path, keep, expected):
    mcap = write_long_bag(tmp_path / "bag", count=16)
    mcap.write_bytes(mcap.read_bytes()[:keep])
    with pytest.raises(DatasetError) as caught:
        list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal"))
    message = str(caught.value)
    assert message == f"{tmp_path / 'bag'}{'/' if expected.startswith('bag.mcap') else ': '}{expected}", message


# -- bags that every distribution's `ros2 bag` opens ---------------------------------------------------
def humble_reads(metadata: dict) -> list[str]:
    """What Humble's rosbag2 YAML reader (rosbag2_storage's yaml.hpp: convert<BagMetadata>::decode)
    would fail on, field by field, as it reads them for the file's version."""
    problems = []

    def need(node, key, kind, where):
        if not isinstance(node.get(key), kind) or isinstance(node.get(key), bool):
            problems.append(f"{where}{key}: {node.get(key)!r} is not a {kind.__name__}")

    info = metadata["rosbag2_bagfile_information"]
    version = info.get("version")
    need(info, "version", int, "")
    need(info, "storage_identifier", str, "")
    if not all(isinstance(p, str) for p in info.get("relative_file_paths", [None])):
        problems.append("relative_file_paths: not a list of strings")
    need(info.get("duration", {}), "nanoseconds", int, "duration.")
    need(info.get("starting_time", {}), "nanoseconds_since_epoch", int, "starting_time.")
    need(info, "message_count", int, "")
    for entry in info.get("topics_with_message_count", []):
        topic = entry.get("topic_metadata", {})
        for key in ("name", "type", "serialization_format"):
            need(topic, key, str, "topic_metadata.")
        if version >= 4:
            need(topic, "offered_qos_profiles", str, "topic_metadata.")
        need(entry, "message_count", int, "topic ")
    if version >= 3:
        need(info, "compression_format", str, "")
        need(info, "compression_mode", str, "")
    if version >= 5:
        for file in info.get("files", [None]):
            if not isinstance(file, dict) or not isinstance(file.get("path"), str):
                problems.append(f"files: {file!r}")
    return problems


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_written_bags_have_metadata_that_humble_jazzy_and_kilted_read(tmp_path, storage):
    import yaml

    write_bag(tmp_path / "bag", storage, count=2)
    metadata = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())
    assert metadata["rosbag2_bagfile_information"]["version"] == 8
    assert humble_reads(metadata) == []
    assert len(list(read_pairs(tmp_path / "bag", "/cam/rgb", "/cam/thermal"))) == 2  # and rosbags reads it


def test_the_humble_check_refuses_what_humble_refuses(tmp_path):
    import yaml

    write_bag(tmp_path / "bag", "mcap", count=1)
    metadata = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())
    topic = metadata["rosbag2_bagfile_information"]["topics_with_message_count"][0]["topic_metadata"]
    topic["offered_qos_profiles"] = [{"history": 1}]  # version 9's list
    assert humble_reads(metadata) == ["topic_metadata.offered_qos_profiles: [{'history': 1}] is not a str"]
