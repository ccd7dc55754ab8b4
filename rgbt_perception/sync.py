"""RGB-thermal pairing for the node: the model library's PairSynchronizer, so that the node,
the rosbag loader and the replay tool pair frames by one rule."""

from rgbt_models.data.pairing import PairSynchronizer, stamp_seconds

__all__ = ["PairSynchronizer", "stamp_seconds"]
