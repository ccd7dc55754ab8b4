"""RGB-thermal pairing (rgbt_models/data/pairing.py), as the node, rgbt-replay and the
bag loaders: exact pairs within slop (queue size, resets, duplicates), latest pairs every RGB
frame with the newest thermal frame within max_age."""

from __future__ import annotations

import pytest

from rgbt_models.data.pairing import LatestPairing, PairSynchronizer, make_pairing


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


def run_latest(events, max_age=0.15):
    pairs, resets = [], []
    pairing = LatestPairing(lambda a, b: pairs.append((a, b)), max_age, resets.append, stamp_of=lambda x: x)
    for stream, t in events:
        pairing.add(stream, t)
    return pairs, resets, pairing


def test_latest_pairs_every_rgb_frame_with_the_newest_thermal_frame_within_max_age():
    # 30 Hz RGB beside a 10 Hz thermal camera: every RGB frame paired, thermal frames reused
    events = sorted([(0, round(i / 30, 4)) for i in range(9)] + [(1, round(i / 10 + 0.001, 4)) for i in range(3)],
                    key=lambda e: (e[1], -e[0]))
    pairs, _, pairing = run_latest(events)
    assert [rgb for rgb, _ in pairs] == [round(i / 30, 4) for i in range(9)]
    # the newest thermal frame when each RGB frame arrives (0.1 comes before the thermal frame at 0.101)
    assert [thermal for _, thermal in pairs] == [0.001, 0.001, 0.001, 0.001, 0.101, 0.101, 0.101, 0.201, 0.201]
    assert pairing.unmatched() == 0


def test_latest_drops_an_rgb_frame_whose_thermal_frame_is_too_old_or_never_comes():
    pairs, _, pairing = run_latest([(1, 0.0), (0, 0.5), (0, 0.6), (1, 1.0)], max_age=0.15)
    assert pairs == [] and pairing.dropped == 2 and pairing.unmatched() == 2


def test_latest_waits_for_the_thermal_frame_triggered_with_the_rgb_one():
    pairs, _, _ = run_latest([(0, 1.000), (1, 1.003)])
    assert pairs == [(1.000, 1.003)]


def test_make_pairing_chooses_by_policy_and_refuses_an_unknown_one():
    assert isinstance(make_pairing("exact", print, 10, 0.05, 0.15), PairSynchronizer)
    assert isinstance(make_pairing("latest", print, 10, 0.05, 0.15), LatestPairing)
    with pytest.raises(ValueError, match="sync.policy must be one of"):
        make_pairing("nearest", print, 10, 0.05, 0.15)
