"""RGB-thermal pairing for the node: the model library's one pairing rule (rgbt_models.data.pairing),
the same that rgbt-replay and the bag loaders use, so that the robot and the replay pair alike and
count the pairs they drop alike (`sync dropped` in /diagnostics). sync.policy exact pairs within
sync.slop (PairSynchronizer, message_filters' ApproximateTimeSynchronizer's parameters, with
duplicated stamps dropped and stamps going backwards resetting it); latest pairs every RGB frame
with the newest thermal frame within sync.max_age (LatestPairing). message_filters is only the
reference a test compares against (rgbt_perception.testing.message_filters_reference).
"""

from __future__ import annotations

from collections.abc import Callable

from rgbt_models.data.pairing import LatestPairing, PairSynchronizer, make_pairing, stamp_seconds

__all__ = ["LatestPairing", "PairSynchronizer", "make_synchronizer", "stamp_seconds"]


def make_synchronizer(callback: Callable[[object, object], None], queue_size: int, slop: float,
                      on_reset: Callable[[str], None] | None = None, policy: str = "exact", max_age: float = 0.15):
    """The node's pairing for sync.policy (exact or latest), with its parameters."""
    return make_pairing(policy, callback, queue_size, slop, max_age, on_reset)
