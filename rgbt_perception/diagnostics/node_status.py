"""The level and message of the node's /diagnostics status, from what the node knows
(enabled, the thermal stream's health, a frozen thermal camera, model failures and non-finite
outputs since the last report, inputs with an incompatible publisher now). ROS-free: levels are
diagnostic_msgs' values (0 OK, 1 WARN, 2 ERROR)."""

from __future__ import annotations

OK, WARN, ERROR = 0, 1, 2


def status_line(enabled: bool, problem: str | None, freeze, freeze_policy: str, counts: dict, previous: dict,
                incompatible_inputs: int, uncertainty: tuple[float, int] | None = None,
                uncertainty_warn: float = 1.0) -> tuple[int, str]:
    """(level, message). `problem`: the stream health's (DEGRADED ..., no input ...); `freeze`:
    the pipeline's FreezeDetector; `counts` / `previous`: the frame counters now and at the last
    report. Model errors count since the last report (the total stays in the values): one failure
    an hour ago must not leave a robot's status WARN all day; ERROR while no frame gets through.
    `uncertainty`: (median, frames) of the frames' label-free uncertainty since the last report:
    WARN above `uncertainty_warn` (the models are unsure: a new site, fog, a changed camera)."""
    level, message = OK, "running"
    if not enabled:
        message = "disabled: not processing (enable service or lifecycle inactive)"
    elif problem:
        level, message = WARN, problem
    elif freeze.frozen:
        level = WARN
        message = (f"thermal frozen (shutter / FFC?) for {freeze.frozen_for:.1f} s: "
                   + ("saliency from RGB only, SARTM paused" if freeze_policy == "degrade"
                      else "fused anyway (thermal.freeze_policy: fuse)"))
    if counts["non_finite_outputs"] > previous.get("non_finite_outputs", 0):
        level, message = max(level, WARN), message + "; non-finite model outputs dropped"
    if incompatible_inputs:
        level, message = max(level, WARN), message + "; incompatible QoS on an input (qos.reliability)"
    if enabled and uncertainty is not None and uncertainty[0] > uncertainty_warn:
        level = max(level, WARN)
        message += (f"; models unsure: uncertainty {uncertainty[0]:.2f} (median of {uncertainty[1]} frames) above "
                    f"uncertainty.warn {uncertainty_warn:g}")
    errors = counts["model_errors"] - previous.get("model_errors", 0)
    if errors:
        processed = counts["processed"] - previous.get("processed", 0)
        level = ERROR if processed == 0 else max(level, WARN)
        message += f"; model failed on {errors} frame{'s' if errors > 1 else ''} since the last report"
    return level, message


def is_degraded(message: str) -> bool:
    """What the status's `degraded` value says: a degraded mode (thermal silent or frozen)."""
    return message.startswith(("DEGRADED", "thermal frozen"))
