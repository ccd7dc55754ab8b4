"""What the node counts and times for /diagnostics (rgbt_perception/diagnostics/frame_stats.py)."""

from __future__ import annotations

from rgbt_perception.diagnostics.frame_stats import COUNTS, FrameStats


def test_counts_pairs_bad_messages_and_their_streams():
    stats = FrameStats()
    for key in ("rgb", "rgb", "thermal", "skipped"):
        stats.count(key)
    stats.paired(stamp_age=0.004, pair_age=0.03)
    stats.bad("thermal")
    stats.bad("thermal")
    assert stats.counts == dict.fromkeys(COUNTS, 0) | {"rgb": 2, "thermal": 1, "skipped": 1, "pairs": 1, "bad": 2}
    values = stats.values({"rgb": 0.0})
    assert values["bad thermal"] == "2" and values["pairs"] == "1"
    assert values["pair age median / p95 / max (ms)"] == "30.0 / 30.0 / 30.0"
    assert values["stamp age at pairing median (ms)"] == "4.00"


def test_a_frame_is_split_into_its_stages():
    stats = FrameStats()
    # handed over at 0, picked up 1 ms later, inference (decode + pipeline) done at 51 ms, published at 53 ms;
    # the pipeline took 40 ms of which the models 30 ms
    stats.frame(0.000, 0.001, 0.051, 0.053, {"total": 0.040, "sartm": 0.012, "samsod": 0.018, "preprocess": 0.005})
    values = stats.values({})
    assert stats.counts["processed"] == 1
    assert values["hand-off to worker median (ms)"] == "1.00"
    assert values["decode median (ms)"] == "10.00"  # 51 - 1 - 40
    assert values["pipeline outside models median (ms)"] == "10.00"  # 40 - 30
    assert values["publish median (ms)"] == "2.00"
    assert values["model median (ms)"] == "30.0" and values["inference median (ms)"] == "40.0"
    assert values["latency median (ms)"] == "53.0"


def test_the_uncertainty_measured_after_publishing_counts_as_pipeline_work():
    """The node measures the uncertainty once the masks are out (timings["uncertainty"], inside
    the publish interval): it moves from the publish stage to the pipeline's."""
    stats = FrameStats()
    stats.frame(0.000, 0.001, 0.051, 0.055, {"total": 0.040, "sartm": 0.012, "samsod": 0.018, "uncertainty": 0.001},
                uncertainty=0.25)
    values = stats.values({})
    assert values["pipeline outside models median (ms)"] == "11.00"  # 40 - 30 + 1
    assert values["publish median (ms)"] == "3.00"  # 4 - 1
    assert stats.uncertainties == [0.25]


def test_rates_are_per_second_since_the_last_call_and_keep_the_counts_before():
    now = [100.0]
    stats = FrameStats(clock=lambda: now[0])
    for _ in range(10):
        stats.count("rgb")
    now[0] += 2.0  # two seconds later
    rates = stats.rates()
    assert rates["rgb"] == 5.0 and rates["thermal"] == 0.0
    assert stats.previous_counts["rgb"] == 0  # the counts at the report before
    stats.count("rgb")
    stats.rates()
    assert stats.previous_counts["rgb"] == 10
