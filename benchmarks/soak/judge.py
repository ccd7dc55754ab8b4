"""The soak's verdicts: latency trends (a least-squares line through the per-minute figures, in %
of the first minute per hour, with its standard error), memory growth, and the judgement of both
against their limits. Pure functions of the minutes' records: tested on series whose answer is
known (test/test_soak_judge.py)."""

from __future__ import annotations

import argparse

import numpy as np

from soak.report import STAGES, own_stage, print_control


def fit(values: list[float], minutes: list[float] | None = None) -> tuple[float, float, float]:
    """A least-squares line through per-minute values (at `minutes`, counted from 0; default every
    minute): (slope per minute, its standard error, the line's value at minute 0); NaNs when fewer
    than 3 values or one is not finite."""
    y = np.asarray(values, float)
    x = np.arange(len(y), dtype=float) if minutes is None else np.asarray(minutes, float)
    if len(y) < 3 or not np.isfinite(y).all():
        return float("nan"), float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    error = np.sqrt((residual @ residual) / (len(y) - 2) / ((x - x.mean()) @ (x - x.mean())))
    return float(slope), float(error), float(intercept)


def trend(values: list[float], minutes: list[float] | None = None) -> tuple[float, float]:
    """(slope, standard error) of the line through per-minute values, in % of the line's value at
    the first minute per hour."""
    slope, error, first = fit(values, minutes)
    scale = 100 * 60 / first
    return slope * scale, error * scale


def memory_growth(floors: list[float]) -> tuple[float, float]:
    """How much the node's memory grew over the run (MB, with its standard error): the line
    through the per-minute RSS floors from the second minute on, over those minutes. Not from the
    first minute: its first 4K burst raises the heap to the level it then keeps. Not the last
    floor against the first: the heap is trimmed only after 100 MB of growth
    (rgbt_perception/diagnostics/memory.py), so any one floor sits anywhere in a 100 MB band above the level."""
    slope, error, _ = fit(floors[1:])
    minutes = len(floors) - 2
    return slope * minutes, error * minutes


def judged_trends(minutes: list[dict], machine, trends: dict) -> tuple[dict, str]:
    """The latency trends to judge: relative to the fresh process's models where it ran at least
    3 times (the node's own drift), else as measured; and which they are."""
    for failure in machine.failures:
        print(f"machine reference failed: {failure}")
    sampled = sorted(i for i in machine.results if i < len(minutes))
    if len(sampled) < 3:
        return trends, "as measured (no machine reference)"
    fresh = [machine.results[i] for i in sampled]
    figures = {"p50": lambda m: m["p50"], "p95": lambda m: m["p95"], "models": lambda m: m["stages"]["models"]}
    relative = {name: trend([figure(minutes[i]) / machine.results[i] for i in sampled], sampled)
                for name, figure in figures.items()}
    machine_trend = trend(fresh, sampled)
    print(f"machine: the node's models in a fresh process (soak_reference.py, {len(sampled)} times): "
          f"{min(fresh):.0f}-{max(fresh):.0f} ms, trend {machine_trend[0]:+.0f} +- {machine_trend[1]:.0f} %/h")
    print("the node's own drift, trends of its figures divided by the fresh process's models (%/h +- standard "
          "error): " + ", ".join(f"{name} {slope:+.0f} +- {error:.0f}" for name, (slope, error) in relative.items()))
    return {name: relative[name] for name in ("p50", "p95")}, "relative to a fresh process"


def judge(args: argparse.Namespace, minutes: list[dict], machine, control: list[dict],
          missed: list[str]) -> int:
    """Memory growth and latency drift against their limits; the verdict line; the exit code."""
    growth, growth_error = memory_growth([m["rss floor"] for m in minutes])
    models = np.array([m["stages"]["models"] for m in minutes])
    reference = np.array([m["reference"] for m in minutes])
    print(f"machine: the reference computation took {reference.min():.1f}-{reference.max():.1f} ms a minute; the "
          f"models' per-minute time follows it with r = {np.corrcoef(models, reference)[0, 1]:.2f}")
    if control:
        print_control(minutes, control)
    trends = {name: trend([m[name] for m in minutes]) for name in ("p50", "p95")}
    stage_trends = {name: trend([own_stage(m, name) for m in minutes]) for name in STAGES}
    print("trends, % of the first minute per hour (+- standard error): "
          + ", ".join(f"{name} {slope:+.0f} +- {error:.0f}" for name, (slope, error) in
                      {**trends, **stage_trends}.items()))
    judged, basis = judged_trends(minutes, machine, trends)
    if growth - 2 * growth_error > 50:
        missed.append(f"RSS growth {growth:+.0f} +- {growth_error:.0f} MB beyond 50")
    missed += [f"{name} trend {slope:+.0f} +- {error:.0f} %/h ({basis}) beyond {args.max_trend:g}"
               for name, (slope, error) in judged.items() if slope - 2 * error > args.max_trend]
    print(f"soak: RSS growth {growth:+.0f} +- {growth_error:.0f} MB (the line through the minutes' floors from "
          f"minute 2), latency trends p50 {trends['p50'][0]:+.0f} %/h, p95 {trends['p95'][0]:+.0f} %/h as measured; "
          f"{basis}: p50 {judged['p50'][0]:+.0f} %/h, p95 {judged['p95'][0]:+.0f} %/h; faults recovered: "
          + (f"MISSED {'; '.join(missed)}" if missed else "met"))
    return 1 if missed else 0

