"""Our pairing against message_filters' ApproximateTimeSynchronizer, the reference it follows
(rgbt_perception/testing/message_filters_reference.py), where message_filters is installed."""

from __future__ import annotations

import pytest

from rgbt_models.data.pairing import PairSynchronizer


def test_message_filters_pairs_like_ours_when_installed():
    """On a ROS install (message_filters importable) both synchronizers see the same input."""
    message_filters = pytest.importorskip("message_filters", reason="message_filters is not on PyPI: ROS installs only")
    del message_filters
    from types import SimpleNamespace

    from rgbt_perception.testing.message_filters_reference import MessageFiltersPairing

    def msg(t):
        sec = int(t)
        return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=round((t - sec) * 1e9))))

    events = [(0, 1.00), (1, 1.01), (0, 1.10), (1, 1.12), (0, 1.20), (1, 1.31), (0, 1.40), (1, 1.41)]
    ours, theirs = [], []
    own = PairSynchronizer(lambda a, b: ours.append((a.header.stamp.nanosec, b.header.stamp.nanosec)), 10, 0.05)
    mf = MessageFiltersPairing(lambda a, b: theirs.append((a.header.stamp.nanosec, b.header.stamp.nanosec)), 10, 0.05)
    for stream, t in events:
        own.add(stream, msg(t))
        mf.add(stream, msg(t))
    # message_filters waits for a later message before emitting, so it may hold back the last pair.
    assert theirs == ours[: len(theirs)] and len(theirs) >= len(ours) - 1
