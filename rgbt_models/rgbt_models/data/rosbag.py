"""rosbag2 (mcap and sqlite3) without ROS, through the PyPI `rosbags` library.

- Bags are opened by `bag_reader.open_bag`, which also reads a bag whose recording was cut
  (an mcap without footer, a bag folder without metadata.yaml) up to its last complete message.
- `read_pairs`: RGB-thermal pairs from a bag, paired by the node's own rule (sync.policy:
  `PairSynchronizer` or `LatestPairing`); optional label / saliency-mask topics are matched by exact stamp.
- `BagDataset`: those pairs as data set Samples (for rgbt-eval and training on own data).
- `BagWriter`: writes Image messages (and, with their .msg definitions, our own types) for
  tests, the demo bag and the replay tool's --record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgbt_models.data.bag_reader import default_typestore, first_line, open_bag
from rgbt_models.data.image_codec import decode_rgb, decode_thermal, encode_compressed, image_to_array
from rgbt_models.data.pairing import make_pairing
from rgbt_models.data.sample import DatasetError, Sample
from rgbt_models.data.stream_health import StreamHealth

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)  # what camera topics may carry (field bags: often compressed)
STORAGES = ("mcap", "sqlite3")


def stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


@dataclass
class BagPair:
    """One synchronized pair (raw `rosbags` messages; thermal None in degraded mode) and the
    ground truth found for it."""

    rgb: object
    thermal: object | None
    truth: dict[str, object] = field(default_factory=dict)  # topic -> Image message
    receive_ns: int = 0  # bag time of the message that completed the pair
    in_window: bool = True  # False: read before or after the StampWindow asked for (lead-in, tail)

    @property
    def stamp_ns(self) -> int:
        return stamp_ns(self.rgb)

    @property
    def age_ns(self) -> int | None:
        """RGB stamp minus thermal stamp (how old the thermal frame is); None without thermal."""
        return None if self.thermal is None else stamp_ns(self.rgb) - stamp_ns(self.thermal)


@dataclass(frozen=True)
class StampWindow:
    """The RGB stamps [start_ns, end_ns) that one shard of a bag owns (None: open on that side),
    and the bag time read for it: `lead_ns` before, so that pairing and stream health enter the
    window as they would in one pass over the bag, and `tail_ns` after (a partner or ground truth
    recorded late). `offset_ns`: RGB stamp minus bag time in this bag (its first RGB message)."""

    start_ns: int | None = None
    end_ns: int | None = None
    offset_ns: int = 0
    lead_ns: int = 0
    tail_ns: int = 0

    def contains(self, stamp: int) -> bool:
        return (self.start_ns is None or stamp >= self.start_ns) and (self.end_ns is None or stamp < self.end_ns)

    def read_span(self) -> tuple[int | None, int | None]:
        """[start, stop) in bag time."""
        start = None if self.start_ns is None else self.start_ns - self.offset_ns - self.lead_ns
        stop = None if self.end_ns is None else self.end_ns - self.offset_ns + self.tail_ns
        return start, stop


def read_pairs(path: str | Path, rgb_topic: str, thermal_topic: str, slop: float = 0.05, queue_size: int = 10,
               truth_topics: tuple[str, ...] = (), counters: dict | None = None,
               thermal_timeout: float | None = None, policy: str = "exact", max_age: float = 0.15,
               window: StampWindow | None = None) -> Iterator[BagPair]:
    """Yield pairs in bag order. `counters` (if given) receives 'rgb', 'thermal', 'pairs',
    'degraded' and 'unpaired' (dropped by the synchronizer) for the report, and
    'recovered_messages' when the bag was truncated (see bag_reader).

    thermal_timeout (s): as the node does, once RGB frames have kept coming for longer than
    this without a thermal frame, they are yielded alone (BagPair.thermal is None: degraded).
    policy / max_age: the node's sync.policy and sync.max_age (rgbt_models.data.pairing).
    window: read only around these RGB stamps; pairs outside are yielded with in_window False
    (for the pipeline's own stream state), and the counters count only what lies inside, by
    stamp: 'rgb' and 'thermal' messages, 'pairs' (with thermal) and 'degraded' (without) by RGB
    stamp, 'unpaired' = camera messages that went into no pair (RGB frames neither paired nor
    degraded, thermal frames no pair used). So the windows of a bag add up to the whole bag.
    A file that is not a readable bag raises DatasetError naming it."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: bag not found")
    counters = counters if counters is not None else {}
    for key in ("rgb", "thermal", "pairs", "degraded"):
        counters.setdefault(key, 0)
    timeout_ns = None if thermal_timeout is None else int(thermal_timeout * 1e9)
    try:
        sync_args = (policy, queue_size, slop, max_age)
        yield from _pairs(path, rgb_topic, thermal_topic, sync_args, truth_topics, counters, timeout_ns,
                          window or StampWindow())
    except DatasetError:
        raise
    except Exception as error:  # a corrupt or foreign file: any error of the bag library
        raise DatasetError(f"{path}: cannot be read as a rosbag2 bag ({type(error).__name__}: "
                           f"{first_line(error)})") from error


def check_topics(path, topics: dict[str, str], cameras: tuple[str, str], truth_topics: tuple[str, ...]) -> None:
    """DatasetError naming the bag when a topic is missing or not of an image type."""
    missing = [t for t in (*cameras, *truth_topics) if t not in topics]
    if missing:
        hints = [f"{t} -> /{t}" for t in missing if not t.startswith("/") and f"/{t}" in topics]
        hint = f"; a bag's topics carry a leading slash: {', '.join(hints)}" if hints else ""
        raise DatasetError(f"{path}: topic(s) {missing} not in the bag (it has {sorted(topics)}){hint}")
    for topic in cameras:
        if topics[topic] not in CAMERA_TYPES:
            raise DatasetError(f"{path}: {topic} is {topics[topic]}, expected one of {CAMERA_TYPES}")
    for topic in truth_topics:
        if topics[topic] != IMAGE_TYPE:
            raise DatasetError(f"{path}: {topic} is {topics[topic]}, expected {IMAGE_TYPE}")


def _pairs(path, rgb_topic, thermal_topic, sync_args, truth_topics, counters, timeout_ns, window):
    now = [0]  # the stamp being read: the health policy's clock (ns)
    thermal_used: set[int] = set()  # stamps of in-window thermal frames some pair used
    health = StreamHealth(timeout_ns if timeout_ns is not None else 0, clock=lambda: now[0])
    with open_bag(path) as bag:
        if bag.recovery is not None:
            counters["recovered_messages"] = bag.recovery.messages
        topics = bag.topics
        check_topics(path, topics, (rgb_topic, thermal_topic), truth_topics)
        ready: list[tuple[object, object]] = []
        policy, queue_size, slop, max_age = sync_args
        sync = make_pairing(policy, lambda a, b: ready.append((a, b)), queue_size, slop, max_age)
        truth: dict[str, dict[int, object]] = {t: {} for t in truth_topics}
        pending: list[BagPair] = []
        def handed_out(pair: BagPair) -> BagPair:
            pair.truth = {t: truth[t].pop(pair.stamp_ns) for t in truth_topics if pair.stamp_ns in truth[t]}
            pair.in_window = window.contains(pair.stamp_ns)
            if pair.in_window:
                counters["pairs" if pair.thermal is not None else "degraded"] += 1
            if pair.thermal is not None and window.contains(stamp_ns(pair.thermal)):
                thermal_used.add(stamp_ns(pair.thermal))
            return pair

        start, stop = window.read_span()
        for topic, timestamp, raw in bag.messages((rgb_topic, thermal_topic, *truth_topics), start, stop):
            msg = bag.deserialize(raw, topics[topic])
            if topic == rgb_topic:
                now[0] = stamp_ns(msg)
                counters["rgb"] += window.contains(now[0])
                health.seen("rgb")
                if timeout_ns is not None and health.thermal_missing():
                    pending.append(BagPair(msg, None, receive_ns=timestamp))
                else:
                    sync.add(0, msg)
            elif topic == thermal_topic:
                now[0] = stamp_ns(msg)
                counters["thermal"] += window.contains(now[0])
                health.seen("thermal")
                sync.add(1, msg)
            else:
                truth[topic][stamp_ns(msg)] = msg
            for rgb, thermal in ready:
                pending.append(BagPair(rgb, thermal, receive_ns=timestamp))
            ready.clear()
            # Ground truth may be written after its frame: hand a pair out once its truth is in
            # (or once the bag is 1 s past it).
            while pending and (all(pending[0].stamp_ns in truth[t] for t in truth_topics)
                               or timestamp - pending[0].receive_ns > 1_000_000_000):
                yield handed_out(pending.pop(0))
        for pair in pending:
            yield handed_out(pair)
        counters["unpaired"] = (counters["rgb"] - counters["pairs"] - counters["degraded"]
                                + counters["thermal"] - len(thermal_used))


def decode_pair(pair: BagPair) -> tuple[np.ndarray, np.ndarray | None]:
    """(rgb (H,W,3) uint8, raw thermal or None) of a pair (raw or compressed messages)."""
    thermal = decode_thermal(pair.thermal) if pair.thermal is not None else None
    return decode_rgb(pair.rgb), thermal


class BagDataset:
    """Synchronized pairs of a bag as Samples (label / mask from truth topics when given): for
    rgbt-eval and for rgbt-train (`data.dataset: bag`). Only pairs that have every truth topic
    given are kept. `classes` names the label topic's class list (None: the model's, checked
    id by id)."""

    def __init__(self, path: str | Path, rgb_topic: str | None = None, thermal_topic: str | None = None,
                 label_topic: str | None = None, mask_topic: str | None = None, slop: float = 0.05,
                 classes: str | None = None) -> None:
        if not rgb_topic or not thermal_topic:
            raise DatasetError(f"{path}: a bag data set needs its RGB and thermal topics (a config's "
                               "data.rgb_topic and data.thermal_topic; rgbt-eval's --rgb-topic and --thermal-topic)")
        self.label_topic, self.mask_topic, self.classes = label_topic, mask_topic, classes
        self.task = ("both" if label_topic and mask_topic else "semantic" if label_topic
                     else "saliency" if mask_topic else None)
        truth = tuple(t for t in (label_topic, mask_topic) if t)
        self.pairs = [p for p in read_pairs(path, rgb_topic, thermal_topic, slop, truth_topics=truth)
                      if p.thermal is not None and all(t in p.truth for t in truth)]
        if not self.pairs:
            raise DatasetError(f"{path}: no synchronized pairs on {rgb_topic} and {thermal_topic}"
                               + (f" with {', '.join(truth)}" if truth else ""))
        self.sample_ids = [f"{Path(path).resolve()}@{pair.stamp_ns}" for pair in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        pair = self.pairs[index]
        rgb, thermal = decode_pair(pair)

        def truth(topic):
            return image_to_array(pair.truth[topic], ("mono8",)) if topic and topic in pair.truth else None

        return Sample(f"{pair.stamp_ns}", rgb, thermal, truth(self.label_topic), truth(self.mask_topic))


# rosbag2 metadata version 8: the newest whose offered_qos_profiles is a YAML *string*, which is
# what Humble's rosbag2 reads (its YAML reader takes the field `as<std::string>()` from version 4
# on, and ignores the keys it does not know: Jazzy's type_description_hash, custom_data,
# ros_distro); Jazzy and Kilted read every older version. Version 9 (a YAML list) fails on Humble
# with "yaml-cpp: bad conversion".
METADATA_VERSION = 8


class BagWriter:
    """Write a rosbag2 bag (mcap or sqlite3) readable by `ros2 bag` on Humble, Jazzy and Kilted,
    and by `rosbags` (metadata version 8, see METADATA_VERSION)."""

    def __init__(self, path: str | Path, storage: str = "mcap", extra_types: dict[str, str] | None = None) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_types_from_msg

        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}")
        self.typestore = default_typestore()
        types = {}
        for name, text in (extra_types or {}).items():
            types.update(get_types_from_msg(text, name))
        if types:
            self.typestore.register(types)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(Path(path), version=METADATA_VERSION, storage_plugin=plugin)
        self.connections: dict[str, object] = {}

    def __enter__(self) -> BagWriter:
        self.writer.open()
        return self

    def __exit__(self, *exc) -> None:
        self.writer.close()

    def message(self, msgtype: str, **fields):
        return self.typestore.types[msgtype](**fields)

    def header(self, stamp: int, frame_id: str):
        Header = self.typestore.types["std_msgs/msg/Header"]  # noqa: N806 - a message class
        Time = self.typestore.types["builtin_interfaces/msg/Time"]  # noqa: N806
        return Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000), frame_id=frame_id)

    def write(self, topic: str, msg, bag_time_ns: int) -> None:
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msg.__msgtype__, typestore=self.typestore)
        self.writer.write(self.connections[topic], bag_time_ns, self.typestore.serialize_cdr(msg, msg.__msgtype__))

    def image(self, array: np.ndarray, encoding: str, stamp: int, frame_id: str):
        array = np.ascontiguousarray(array)
        return self.message(IMAGE_TYPE, header=self.header(stamp, frame_id), height=array.shape[0],
                            width=array.shape[1], encoding=encoding, is_bigendian=0, step=array.strides[0],
                            data=np.frombuffer(array.tobytes(), np.uint8))

    def compressed_image(self, array: np.ndarray, encoding: str, stamp: int, frame_id: str, codec: str = "png"):
        """A sensor_msgs/CompressedImage as image_transport's `compressed` plugin writes it."""
        fmt, data = encode_compressed(array, encoding, codec)
        return self.message(COMPRESSED_TYPE, header=self.header(stamp, frame_id), format=fmt,
                            data=np.frombuffer(data, np.uint8))

    def write_image(self, topic: str, array: np.ndarray, encoding: str, stamp: int, frame_id: str = "camera",
                    bag_time_ns: int | None = None, compressed: str | None = None) -> None:
        """Write an Image, or with compressed='png' | 'jpeg' a CompressedImage."""
        msg = (self.image(array, encoding, stamp, frame_id) if compressed is None
               else self.compressed_image(array, encoding, stamp, frame_id, compressed))
        self.write(topic, msg, stamp if bag_time_ns is None else bag_time_ns)
