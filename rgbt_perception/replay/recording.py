"""--record: the pipeline's outputs written as a rosbag2 bag with the node's topic names and
types (sensor_msgs/Image, rgbt_msgs/SemanticClasses, rgbt_msgs/SalientObjects), stamped like
the input RGB frames, readable by `ros2 bag` and by `rosbags`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rgbt_models.data.rosbag import BagWriter

MESSAGES = ("ClassInfo", "ClassMap", "SalientObject", "SalientObjects", "SemanticClasses")


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


class OutputRecorder:
    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        storage = "mcap" if str(path).endswith(".mcap") else "sqlite3"
        folder = Path(path).with_suffix("") if storage == "mcap" else Path(path)
        if folder.exists():
            if not overwrite:
                raise FileExistsError(f"--record {path}: {folder} exists; remove it or pass --overwrite")
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
        self.writer = BagWriter(folder, storage, extra_types=rgbt_msg_definitions())
        self.writer.__enter__()
        self.path = folder

    def write(self, pair, result) -> None:
        """One frame's outputs on the node's topics, as `ros2 bag` shows them (/semantic/mask ...)."""
        w = self.writer
        stamp, frame = pair.stamp_ns, pair.rgb.header.frame_id
        header = w.header(stamp, frame)
        if result.semantic_mask is not None:
            w.write("/semantic/mask", w.image(result.semantic_mask, "mono8", stamp, frame), stamp)
            if result.semantic_color is not None:
                w.write("/semantic/color", w.image(result.semantic_color, "rgb8", stamp, frame), stamp)
            import numpy as np

            stats = result.class_stats
            w.write("/semantic/classes", w.message(
                "rgbt_msgs/msg/SemanticClasses", header=header,
                class_ids=np.array([s.class_id for s in stats], np.uint16), class_names=[s.name for s in stats],
                pixel_fractions=np.array([s.pixel_fraction for s in stats], np.float32),
                mean_confidences=np.array([s.mean_confidence for s in stats], np.float32)), stamp)
        if result.saliency_map is not None:
            w.write("/saliency/map", w.image(result.saliency_map, "mono8", stamp, frame), stamp)
            w.write("/saliency/mask", w.image(result.saliency_mask, "mono8", stamp, frame), stamp)
            roi = "sensor_msgs/msg/RegionOfInterest"
            objects = [w.message("rgbt_msgs/msg/SalientObject",
                                 bbox=w.message(roi, x_offset=o.x, y_offset=o.y, height=o.height, width=o.width,
                                                do_rectify=False),
                                 area=o.area, mean_saliency=o.mean_saliency, centroid_x=o.centroid_x,
                                 centroid_y=o.centroid_y) for o in result.objects]
            height, width = result.saliency_map.shape
            w.write("/saliency/objects", w.message("rgbt_msgs/msg/SalientObjects", header=header, height=height,
                                                  width=width, objects=objects), stamp)

    def close(self) -> None:
        self.writer.__exit__(None, None, None)
