"""rgbt_models/data/stream_health.py on an injected clock: which path a frame takes and what a
status report says, through a thermal outage, a silent RGB camera and stamps that never meet."""

import pytest

from rgbt_models.data.stream_health import StreamHealth


@pytest.fixture
def clock():
    now = [0.0]
    return now


def feed(health, clock, until, streams=("rgb", "thermal"), pairs=True, step=0.1):
    """Frames of `streams` every `step` s up to `until`, paired (or not) as they come."""
    while clock[0] < until - 1e-9:
        clock[0] = round(clock[0] + step, 6)
        for stream in streams:
            health.seen(stream, clock[0])
        if pairs and len(streams) == 2:
            health.paired()


def test_a_steady_pair_has_no_problem(clock):
    health = StreamHealth(1.0, clock=lambda: clock[0])
    feed(health, clock, 5.0)
    assert health.problem(0.05) is None and not health.thermal_missing() and not health.unpairable()


def test_thermal_missing_after_the_timeout_and_paired_again_at_once_when_it_returns(clock):
    health = StreamHealth(1.0, clock=lambda: clock[0])
    feed(health, clock, 2.0)
    feed(health, clock, 2.9, streams=("rgb",))
    assert not health.thermal_missing()  # 0.9 s: a slow camera, not a missing one
    feed(health, clock, 6.0, streams=("rgb",))
    assert health.thermal_missing() and health.problem(0.05).startswith("DEGRADED: thermal missing")
    clock[0] += 0.1
    health.seen("rgb", clock[0])  # RGB of the first pair after the outage ...
    health.seen("thermal", clock[0])  # ... and its thermal partner
    assert not health.thermal_missing()
    assert not health.unpairable() and health.problem(0.05) is None  # not "cannot be paired" before it pairs


def test_stamps_that_never_meet_are_unpairable_after_the_timeout(clock):
    health = StreamHealth(1.0, clock=lambda: clock[0])
    feed(health, clock, 0.9, pairs=False)
    assert not health.unpairable()
    feed(health, clock, 2.0, pairs=False)
    health.last_stamp["thermal"] = health.last_stamp["rgb"] + 13.8
    assert health.unpairable()
    assert health.problem(0.1) == ("DEGRADED: RGB and thermal cannot be paired (thermal stamps are 13.800 s ahead "
                                   "of RGB (sync.slop 0.1 s)), saliency from RGB only")


def test_a_silent_rgb_camera_is_named_not_taken_for_unpairable_stamps(clock):
    health = StreamHealth(1.0, clock=lambda: clock[0])
    feed(health, clock, 2.0)
    feed(health, clock, 5.0, streams=("thermal",))
    assert not health.unpairable() and not health.thermal_missing()
    assert health.problem(0.1) == "no RGB input: thermal arrives but the RGB camera is silent, nothing is published"


def test_neither_camera_is_no_input(clock):
    health = StreamHealth(1.0, clock=lambda: clock[0])
    assert health.problem(0.1) == "no input: neither camera is publishing"
    feed(health, clock, 1.0)
    clock[0] += 5.0
    assert health.problem(0.1) == "no input: neither camera is publishing"
