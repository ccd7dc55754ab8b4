"""Warnings throttled per reason (rgbt_perception/diagnostics/log_throttle.py)."""

from __future__ import annotations

from rgbt_perception.diagnostics.log_throttle import ThrottledLog, reason_key


def test_the_reason_of_a_message_is_its_text_with_numbers_blanked():
    assert reason_key("step 1281 is smaller than 1920") == reason_key("step 7 is smaller than 640")
    assert reason_key("data holds -3.5 bytes") == "data holds # bytes"
    assert reason_key("step 1 is small") != reason_key("data holds 1 bytes")


def test_throttle_is_per_reason():
    lines: list[str] = []
    clock = [0.0]
    log = ThrottledLog(lines.append, period=5.0, clock=lambda: clock[0])
    for i in range(3):
        log.warn("bad rgb: " + reason_key(f"step {100 + i} is small"), f"rgb step {100 + i}")
        log.warn("bad thermal: " + reason_key("data holds 3 bytes"), "thermal data")
    assert lines == ["rgb step 100", "thermal data"]
    clock[0] = 6.0
    log.warn("bad rgb: " + reason_key("step 1 is small"), "rgb again")
    assert lines[-1] == "rgb again (2 more like it in the last 5 s)"



def test_throttle_forgets_old_reasons_on_a_long_run():
    lines: list[str] = []
    clock = [0.0]
    log = ThrottledLog(lines.append, period=5.0, clock=lambda: clock[0], max_keys=16)
    for i in range(1000):  # a driver that finds a new way to be wrong every second, all day
        clock[0] = float(i)
        log.warn(f"reason {i}", f"line {i}")
    assert len(lines) == 1000 and len(log.last) <= 16
    log.warn("reason 0", "again")  # long forgotten: logged at once
    log.warn("reason 999", "held back")  # within its period: still throttled
    assert lines[-1] == "again" and log.held == {"reason 999": 1}
