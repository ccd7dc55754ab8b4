"""Which bags, cut into which shards: rgbt-replay's BAG arguments and --window.

A BAG argument is a bag (folder, .mcap or .db3 file), a folder of bags, or a glob. With
--window SECONDS a bag is cut into windows of its RGB stamps: every frame belongs to exactly
one window (the first is open to the left, the last to the right). A window is read with a
lead-in, so that pairing and stream health enter it as they would in one pass (the lead covers
thermal.timeout, the pairing's slop and age, the freeze duration, and five time constants of
the 'stable' normalisation), and a tail for a late partner or ground truth.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rgbt_models.data.bag_reader import open_bag, storage_files
from rgbt_models.data.rosbag import StampWindow, stamp_ns
from rgbt_models.data.sample import DatasetError

if TYPE_CHECKING:  # the shards' module loads the models' stack: not needed to find and list bags
    from rgbt_perception.replay.shard import ReplaySettings, Shard

SECOND = 1_000_000_000
TRUTH_DELAY_NS = SECOND  # ground truth may be written up to 1 s after its frame (rosbag.read_pairs)


SPLIT_FILE = re.compile(r"(.+)_\d+")  # rosbag2 names a recording's storage files NAME_0, NAME_1, ...


def is_bag(path: Path) -> bool:
    """One storage file, or a rosbag2 folder: its metadata.yaml, or (a recording cut before it was
    written) storage files of one recording and no bag beside them. A folder whose storage files
    are of several recordings, or that holds bag folders, is a folder of bags."""
    if path.is_file():
        return path.suffix in (".mcap", ".db3")
    if not path.is_dir():
        return False
    if (path / "metadata.yaml").is_file():
        return True
    files = storage_files(path)
    if not files or any(is_bag(child) for child in path.iterdir() if child.is_dir()):
        return False
    return len(files) == 1 or len({split.group(1) if (split := SPLIT_FILE.fullmatch(f.stem)) else f.stem
                                   for f in files}) == 1


def expand_bags(arguments: list[str]) -> list[str]:
    """The bags named by BAG arguments, in the order given (a folder's or glob's sorted); each once."""
    bags: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.exists() and is_bag(path):
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if is_bag(p))
            if not found:
                raise DatasetError(f"{path}: no rosbag2 bags in this folder")
        else:
            found = sorted(Path(p) for p in glob.glob(argument) if is_bag(Path(p)))
            if not found:
                raise DatasetError(f"{argument}: bag not found")
        bags += [str(p) for p in found if str(p) not in bags]
    return bags


def lead_ns(params: dict) -> int:
    """How much bag time before a window is read so that its first frames pair and are tracked as
    in one pass."""
    seconds = 2 * float(params["thermal.timeout"]) + float(params["sync.slop"]) + float(params["sync.max_age"])
    seconds += max(0.0, float(params.get("thermal.freeze_duration", 0.0)))
    if params.get("thermal.normalization") == "stable":
        seconds += 5 * float(params["thermal.time_constant"])
    return int(seconds * SECOND)


def tail_ns(params: dict) -> int:
    return int((float(params["sync.slop"]) + float(params["sync.max_age"]) + 1.0) * SECOND) + TRUTH_DELAY_NS


def plan(bags: list[str], window_s: float | None, settings: ReplaySettings, params: dict) -> list[Shard]:
    """One shard per bag, or per window of `window_s` seconds of a bag's RGB stamps. A bag that
    cannot be read becomes one shard (whose run reports why)."""
    from rgbt_perception.replay.shard import Shard

    shards: list[Shard] = []
    for bag_index, bag in enumerate(bags):
        bounds = window_bounds(bag, settings.rgb_topic, window_s) if window_s else None
        if not bounds:
            shards.append(Shard(bag, bag_index))
            continue
        offset, cuts = bounds
        edges = [None, *cuts, None]
        for index in range(len(edges) - 1):
            window = StampWindow(edges[index], edges[index + 1], offset, lead_ns(params), tail_ns(params))
            shards.append(Shard(bag, bag_index, index, len(edges) - 1, window))
    return shards


def window_bounds(bag: str, rgb_topic: str, window_s: float) -> tuple[int, list[int]] | None:
    """(RGB stamp - bag time of the bag's first RGB message, the stamps where windows meet), from
    the bag's time span; None when the bag cannot be read (its one shard will say why) or holds
    less than two windows."""
    try:
        with open_bag(bag) as source:
            first = next(source.messages((rgb_topic,)), None)
            if first is None:
                return None
            start, end = source.time_span()
            msgtype = source.topics[rgb_topic]
            offset = stamp_ns(source.deserialize(first[2], msgtype)) - first[1]
    except (DatasetError, KeyError):
        return None
    step = int(window_s * SECOND)
    cuts = list(range(start + offset + step, end + offset + 1, step))
    return (offset, cuts) if cuts else None
