"""RGB-thermal pairing for the node.

On a ROS install with message_filters, pairs come from `message_filters.ApproximateTimeSynchronizer`
(fed through SimpleFilters from the node's own callbacks, so that validation and counting stay
ours); on the pip route, from the model library's `PairSynchronizer`, which the rosbag loader
and the replay tool use too. Both take queue_size and slop; both reset when stamps go backwards.
sync.policy latest (cameras of different rates) uses the model library's `LatestPairing` on
either route.
"""

from __future__ import annotations

from collections.abc import Callable

from rgbt_models.data.pairing import LatestPairing, PairSynchronizer, stamp_seconds

__all__ = ["LatestPairing", "MessageFiltersPairing", "PairSynchronizer", "make_synchronizer", "stamp_seconds"]


class MessageFiltersPairing:
    """ApproximateTimeSynchronizer behind PairSynchronizer's interface (add(stream, msg))."""

    def __init__(self, callback: Callable[[object, object], None], queue_size: int, slop: float,
                 on_reset: Callable[[str], None] | None = None) -> None:
        self.callback, self.queue_size, self.slop, self.on_reset = callback, queue_size, slop, on_reset
        self.dropped = 0
        self._build()

    def _build(self) -> None:
        import message_filters

        self.inputs = (message_filters.SimpleFilter(), message_filters.SimpleFilter())
        self.synchronizer = message_filters.ApproximateTimeSynchronizer(list(self.inputs), self.queue_size, self.slop)
        self.synchronizer.registerCallback(self.callback)
        self.last_stamp = [float("-inf"), float("-inf")]

    def set_slop(self, slop: float) -> None:
        """A new slop (runtime parameter): the synchronizer is rebuilt, queued messages dropped."""
        self.slop = slop
        self._build()

    def set_max_age(self, max_age: float) -> None:
        """(sync.max_age applies to the latest policy only.)"""

    def add(self, stream: int, msg) -> None:
        t = stamp_seconds(msg)
        if t < self.last_stamp[stream]:
            self._build()
            if self.on_reset:
                self.on_reset(f"stamp of stream {stream} went backwards")
        self.last_stamp[stream] = t
        self.inputs[stream].signalMessage(msg)


def make_synchronizer(callback, queue_size: int, slop: float, on_reset=None, policy: str = "exact",
                      max_age: float = 0.15):
    """sync.policy exact: message_filters' synchronizer when importable, else our own;
    latest: LatestPairing."""
    if policy == "latest":
        return LatestPairing(callback, max_age, on_reset)
    try:
        import message_filters  # noqa: F401
    except ImportError:
        return PairSynchronizer(callback, queue_size, slop, on_reset)
    return MessageFiltersPairing(callback, queue_size, slop, on_reset)  # pragma: no cover - ROS install only
