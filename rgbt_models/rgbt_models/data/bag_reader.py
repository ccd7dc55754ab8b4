"""Open a rosbag2 bag (mcap or sqlite3) for reading, also when its recording was cut.

A bag whose recorder died (power loss, a full disk, a killed `ros2 bag record`) has an mcap
file without its footer and summary, and often no metadata.yaml. `rosbags` refuses such a
file whole; `mcap recover` and `ros2 bag reindex` would keep every complete message. So does
`open_bag`: a healthy bag is read by `rosbags.highlevel.AnyReader`; otherwise each storage
file is read on its own -- an mcap up to its last complete record, a sqlite3 database without
metadata.yaml through its own tables -- and one warning says what was recovered. A file cut
inside its header (nothing to recover) is a one-line DatasetError.
"""

from __future__ import annotations

import functools
import heapq
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from rgbt_models.data.sample import DatasetError

log = logging.getLogger("rgbt_models.bag")

MCAP_MAGIC = b"\x89MCAP0\r\n"
_MCAP_OPCODES = range(0x01, 0x11)  # header .. data end; 0x00 (zero-filled blocks after a crash) ends the scan
_MCAP_FOOTER, _MCAP_DATA_END = 0x02, 0x0F


def default_typestore():
    """The message definitions assumed for types a bag does not define itself (ROS 2 Kilted's)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


@dataclass
class Recovery:
    """What was read from a bag that rosbags could not open as a whole."""

    files: list[str]
    messages: int
    truncated: bool  # an mcap without footer/summary (cut recording); else only metadata.yaml was missing
    reason: str

    def describe(self, path: Path) -> str:
        what = ("the bag is truncated (its recording was cut: no mcap footer/summary)" if self.truncated
                else "the bag has no usable metadata.yaml")
        return (f"{path}: {what}; recovered {self.messages} complete message(s) from "
                f"{', '.join(self.files)}, as `ros2 bag reindex` would ({self.reason})")


class BagSource:
    """A bag opened for reading: `topics` (topic -> message type), `messages(topics)` in bag
    order, `deserialize(raw, msgtype)`; `recovery` says what was recovered, if anything was."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovery: Recovery | None = None
        self._stack = ExitStack()
        self._readers: list = []  # AnyReader, or one rosbags storage reader per file
        self._any = None
        self.typestore = default_typestore()

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    @property
    def topics(self) -> dict[str, str]:
        return {c.topic: c.msgtype for c in self._connections()}

    @property
    def message_counts(self) -> dict[str, int]:
        """Topic -> number of messages, as `ros2 bag info` counts them."""
        counts: dict[str, int] = {}
        for connection in self._connections():
            counts[connection.topic] = counts.get(connection.topic, 0) + connection.msgcount
        return counts

    def _connections(self) -> list:
        if self._any is not None:
            return list(self._any.connections)
        return [c for reader in self._readers for c in reader.connections]

    def messages(self, topics: list[str] | tuple[str, ...], start: int | None = None,
                 stop: int | None = None) -> Iterator[tuple[str, int, bytes]]:
        """(topic, bag time in ns, serialized message) of `topics`, in bag time order; only bag
        times in [start, stop) when given (an index seek where the storage has one)."""
        wanted = set(topics)
        if self._any is not None:
            connections = [c for c in self._any.connections if c.topic in wanted]
            for connection, timestamp, raw in self._any.messages(connections=connections, start=start, stop=stop):
                yield connection.topic, timestamp, raw
            return
        streams = []
        for reader in self._readers:
            connections = [c for c in reader.connections if c.topic in wanted]
            if connections:
                read = reader.messages_scan if getattr(reader, "scan_only", False) else reader.messages
                source = read(connections)
                streams.append(((timestamp, connection.topic, raw) for connection, timestamp, raw in source))
        for timestamp, topic, raw in heapq.merge(*streams, key=lambda item: item[0]):
            if (start is None or timestamp >= start) and (stop is None or timestamp < stop):
                yield topic, timestamp, raw

    def time_span(self) -> tuple[int, int]:
        """(first, last) bag time of the bag's messages (ns)."""
        if self._any is not None:
            return int(self._any.start_time), int(self._any.end_time) - 1  # rosbags' end is exclusive
        times = [t for reader in self._readers for _, t, _ in reader.messages(reader.connections)]
        return min(times), max(times)

    def deserialize(self, raw: bytes, msgtype: str):
        if self._any is not None:
            return self._any.deserialize(raw, msgtype)
        return self.typestore.deserialize_cdr(raw, msgtype)

    # -- opening ---------------------------------------------------------------------------
    def open(self) -> BagSource:
        from rosbags.highlevel import AnyReader

        try:
            self._any = self._stack.enter_context(AnyReader([self.path], default_typestore=self.typestore))
            return self
        except Exception as error:  # rosbags refuses the bag: try its storage files one by one
            self._any = None
            reason = f"{type(error).__name__}: {first_line(error)}"
            files = storage_files(self.path)
            if not files:
                raise DatasetError(f"{self.path}: cannot be read as a rosbag2 bag ({reason})") from error
        truncated = False
        for file in files:
            reader, cut = open_storage_file(file)
            self._stack.callback(reader.close)
            self._readers.append(reader)
            truncated |= cut
        self._register_bag_types()
        count = sum(c.msgcount for c in self._connections())
        if not count:
            raise DatasetError(f"{self.path}: cannot be read as a rosbag2 bag ({reason}), and its storage files "
                               "hold no complete message to recover")
        self.recovery = Recovery([f.name for f in files], count, truncated, reason)
        log.warning(self.recovery.describe(self.path))
        return self

    def _register_bag_types(self) -> None:
        """Types the bag defines that the default store lacks (e.g. rgbt_msgs in a --record bag)."""
        from rosbags.interfaces import MessageDefinitionFormat
        from rosbags.typesys import get_types_from_msg

        for connection in self._connections():
            if connection.msgtype in self.typestore.types or connection.msgdef.format != MessageDefinitionFormat.MSG:
                continue
            try:
                self.typestore.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
            except Exception as error:  # an unreadable definition: only that topic cannot be decoded
                log.warning("%s: %s: message definition of %s not readable (%s)", self.path, connection.topic,
                            connection.msgtype, first_line(error))


def open_bag(path: str | Path) -> BagSource:
    """A BagSource over the bag at `path` (a bag folder, or one .mcap / .db3 file). Use it
    as a context manager; a file that is no bag, or a bag cut inside its header, raises
    DatasetError naming it."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: bag not found")
    source = BagSource(path)
    try:
        return source.open()
    except BaseException:
        source.__exit__(None, None, None)
        raise


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else ""


def storage_files(path: Path) -> list[Path]:
    """The storage files of a bag folder (split files in order) or the file itself."""
    if path.is_file():
        return [path] if path.suffix in (".mcap", ".db3") else []
    return sorted([*path.glob("*.mcap"), *path.glob("*.db3")])


def open_storage_file(file: Path):
    """(rosbags storage reader, whether the file was cut) for one .mcap or .db3 file."""
    from rosbags.rosbag2.storage_mcap import McapReader
    from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader

    if file.suffix == ".db3":
        reader = Sqlite3Reader(file)
        try:
            reader.open()
        except Exception as error:
            raise DatasetError(f"{file}: not a readable rosbag2 sqlite3 database ({first_line(error)})") from error
        return reader, False
    reader = McapReader(file)
    try:
        reader.open()
        return reader, False
    except Exception:  # no footer / summary: a cut recording
        pass
    reader = recovering_mcap_reader()(file)
    try:
        reader.open()
    except Exception as error:
        raise DatasetError(f"{file}: cut inside its mcap header or not an mcap file, nothing to recover "
                           f"({first_line(error)})") from error
    return reader, True


@functools.cache
def recovering_mcap_reader():
    """rosbags' mcap reader over the data section of a file that has no footer or summary:
    records are read up to the last complete one, as `mcap recover` does. (A class made on
    first use, so that importing this module does not import rosbags.)"""
    from io import BytesIO

    from rosbags.rosbag2.storage_mcap import McapReader, read_sized, read_string

    class RecoveringMcapReader(McapReader):
        scan_only = True  # no chunk index to seek with: messages come from one scan, in file order

        def _open(self) -> None:
            bio = self.bio
            if bio.read(8) != MCAP_MAGIC:
                raise DatasetError("not an mcap file (no magic at its start)")
            if bio.read(1) != b"\x01":
                raise DatasetError("no mcap header record")
            if read_string(BytesIO(read_sized(bio))) != "ros2":
                raise DatasetError("the mcap profile is not ros2")
            self.data_start = bio.tell()
            self.data_end = complete_records_end(bio, self.data_start)
            self.meta_scan()
            counts = self.statistics.channel_message_counts
            self.connections = [c._replace(msgcount=counts.get(c.id, 0)) for c in self.connections]

    return RecoveringMcapReader


def complete_records_end(bio, start: int) -> int:
    """Offset after the last complete top-level mcap record from `start` (before a footer or
    data-end record, a record that runs past the end of the file, or bytes that are no record)."""
    size = bio.seek(0, 2)
    position = start
    while position + 9 <= size:
        bio.seek(position)
        head = bio.read(9)
        opcode, length = head[0], int.from_bytes(head[1:], "little")
        if opcode not in _MCAP_OPCODES or opcode in (_MCAP_FOOTER, _MCAP_DATA_END) or position + 9 + length > size:
            break
        position += 9 + length
    return position
