"""message_filters' ApproximateTimeSynchronizer behind our pairing's interface: the reference
that test/test_message_filters_reference.py compares our pairing (rgbt_models.data.pairing) against on a ROS
install. The node, rgbt-replay and the bag loaders never use it: they pair by our rule alone, so
that the robot and the replay pair alike (and count what they drop alike)."""

from __future__ import annotations

from collections.abc import Callable

from rgbt_models.data.pairing import stamp_seconds


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
