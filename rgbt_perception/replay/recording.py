"""--record: the pipeline's outputs written as a rosbag2 bag with the node's topic names and
types (sensor_msgs/Image, rgbt_msgs/SemanticClasses, rgbt_msgs/SalientObjects), stamped like
the input RGB frames, readable by `ros2 bag` and by `rosbags`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from rgbt_models.data.rosbag import IMAGE_TYPE, BagWriter
from rgbt_perception.outputs import FRAME_TOPICS, frame_messages

MESSAGES = ("ClassInfo", "ClassMap", "FrameUncertainty", "SalientObject", "SalientObjects", "SemanticClasses")


def rgbt_msg_definitions() -> dict[str, str]:
    """The .msg texts of rgbt_msgs: from its installed share folder (ament index or this
    prefix), else from the repository's msg/ folder."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("rgbt_msgs")) / "msg")
    except Exception:  # not a ROS environment, or rgbt_msgs not in the index
        pass
    candidates += [Path(sys.prefix) / "share" / "rgbt_msgs" / "msg", Path(__file__).resolve().parents[2] / "msg"]
    for folder in candidates:
        if all((folder / f"{name}.msg").is_file() for name in MESSAGES):
            return {f"rgbt_msgs/msg/{name}": (folder / f"{name}.msg").read_text() for name in MESSAGES}
    raise FileNotFoundError(f"rgbt_msgs .msg files not found in {[str(c) for c in candidates]}")


class BagMessages:
    """rosbags messages for rgbt_perception.outputs.frame_messages (types of the writer's store)."""

    def __init__(self, writer: BagWriter) -> None:
        self.writer = writer

    def message(self, type_name: str, **fields):
        return self.writer.message(type_name, **fields)

    def image(self, image, encoding: str, header):
        image = np.ascontiguousarray(image)
        return self.writer.message(IMAGE_TYPE, header=header, height=image.shape[0], width=image.shape[1],
                                   encoding=encoding, is_bigendian=0, step=image.strides[0],
                                   data=np.frombuffer(image.tobytes(), np.uint8))

    def array(self, values, dtype) -> np.ndarray:
        return np.array(list(values), dtype)


class OutputRecorder:
    """--record: every frame's outputs on the node's topics (/semantic/mask ...), as the node
    builds them, stamped and framed like the input RGB frame."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        storage = "mcap" if str(path).endswith(".mcap") else "sqlite3"
        folder = Path(path).with_suffix("") if storage == "mcap" else Path(path)
        if folder.exists():
            if not overwrite:
                raise FileExistsError(f"--record {path}: {folder} exists; remove it or pass --overwrite")
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
        self.writer = BagWriter(folder, storage, extra_types=rgbt_msg_definitions())
        self.writer.__enter__()
        self.messages = BagMessages(self.writer)
        self.path = folder

    def write(self, pair, result) -> None:
        stamp = pair.stamp_ns
        header = self.writer.header(stamp, pair.rgb.header.frame_id)
        for topic, message in frame_messages(result, header, FRAME_TOPICS, self.messages).items():
            self.writer.write(f"/{topic}", message, stamp)

    def close(self) -> None:
        self.writer.__exit__(None, None, None)
