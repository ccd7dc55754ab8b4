"""The /diagnostics status rule (rgbt_perception/diagnostics/node_status.py)."""

from __future__ import annotations

from types import SimpleNamespace

from rgbt_perception.diagnostics.node_status import ERROR, OK, WARN, is_degraded, status_line

COUNTS = {"processed": 10, "model_errors": 0, "non_finite_outputs": 0}
LIVE = SimpleNamespace(frozen=False, frozen_for=0.0)


def line(enabled=True, problem=None, freeze=LIVE, policy="degrade", counts=None, previous=None, qos=0):
    return status_line(enabled, problem, freeze, policy, counts or COUNTS, previous or {}, qos)


def test_running_disabled_and_a_stream_problem():
    assert line() == (OK, "running")
    assert line(enabled=False) == (OK, "disabled: not processing (enable service or lifecycle inactive)")
    problem = "DEGRADED: thermal missing, saliency from RGB only, SARTM paused"
    assert line(problem=problem) == (WARN, problem)


def test_a_frozen_thermal_camera_says_for_how_long_and_what_the_policy_does():
    frozen = SimpleNamespace(frozen=True, frozen_for=1.24)
    assert line(freeze=frozen) == (WARN, "thermal frozen (shutter / FFC?) for 1.2 s: saliency from RGB only, "
                                         "SARTM paused")
    assert line(freeze=frozen, policy="fuse")[1].endswith("fused anyway (thermal.freeze_policy: fuse)")


def test_model_errors_count_since_the_last_report_and_error_only_when_no_frame_got_through():
    previous = {"processed": 10, "model_errors": 0}
    some = dict(COUNTS, processed=12, model_errors=1)
    assert line(counts=some, previous=previous) == (WARN, "running; model failed on 1 frame since the last report")
    none_through = dict(COUNTS, processed=10, model_errors=3)
    assert line(counts=none_through, previous=previous) == (ERROR, "running; model failed on 3 frames since the "
                                                                   "last report")
    assert line(counts=none_through, previous=none_through) == (OK, "running")  # an old failure: OK again


def test_non_finite_outputs_and_incompatible_qos_add_a_warning():
    level, message = line(counts=dict(COUNTS, non_finite_outputs=1), qos=1)
    assert level == WARN
    assert message == "running; non-finite model outputs dropped; incompatible QoS on an input (qos.reliability)"


def test_degraded_is_what_the_message_says():
    assert is_degraded("DEGRADED: thermal missing") and is_degraded("thermal frozen (shutter / FFC?) for 1.0 s")
    assert not is_degraded("running") and not is_degraded("no input: neither camera is publishing")
