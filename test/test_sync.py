"""The pip-route RGB-thermal synchronizer: pairing, slop, queue size, resets."""

from __future__ import annotations

import pytest

from rgbt_perception.sync import PairSynchronizer


def run(events, slop=0.05, queue_size=10):
    pairs, resets = [], []
    sync = PairSynchronizer(lambda a, b: pairs.append((a, b)), queue_size, slop, resets.append, stamp_of=lambda x: x)
    for stream, t in events:
        sync.add(stream, t)
    return pairs, resets, sync


def test_pairs_nearest_within_slop():
    pairs, _, _ = run([(0, 1.00), (1, 1.01), (0, 1.10), (1, 1.12), (0, 1.20), (1, 1.31)])
    assert pairs == [(1.00, 1.01), (1.10, 1.12)]


def test_no_pair_outside_slop():
    pairs, _, sync = run([(0, 1.0), (1, 1.2), (0, 1.4), (1, 1.6)], slop=0.05)
    assert pairs == [] and sync.dropped >= 2


def test_each_message_is_used_once_and_pairs_are_emitted_without_waiting():
    pairs, _, _ = run([(1, 2.00), (0, 1.98), (0, 2.01), (1, 2.10)], slop=0.05)
    assert pairs == [(1.98, 2.00)]  # 2.00 is taken; 2.01 and 2.10 are 0.09 apart


def test_the_closer_of_two_queued_partners_wins():
    pairs, _, _ = run([(0, 1.98), (0, 2.01), (1, 2.00)], slop=0.05)
    assert pairs == [(2.01, 2.00)]


def test_stamps_going_backwards_reset_the_queues():
    pairs, resets, _ = run([(0, 5.0), (1, 5.5), (0, 1.0), (1, 1.0)], slop=0.05)
    assert resets and "backwards" in resets[0]
    assert pairs == [(1.0, 1.0)]


def test_duplicated_stamps_are_dropped():
    pairs, _, sync = run([(0, 1.0), (0, 1.0), (1, 1.0)])
    assert pairs == [(1.0, 1.0)] and sync.dropped == 1


def test_queue_size_bounds_memory():
    _, _, sync = run([(0, float(i)) for i in range(50)], queue_size=5)
    assert len(sync.queues[0]) == 5


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
