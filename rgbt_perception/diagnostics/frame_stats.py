"""What the node counts and times, and the key/value list /diagnostics shows of it (ROS-free).

Counts: messages per stream, pairs, processed, skipped (a newer pair arrived while the models
ran), bad messages (per stream), model errors, non-finite outputs, frames whose thermal was
frozen (shutter / FFC). Timings (the last 200
frames): end-to-end latency, inference, model time, and where a frame's time goes outside the
models (stamp age at pairing, hand-off to the worker, decode, pipeline outside the models,
publish). The stamp age compares the RGB header stamp with the wall clock: meaningful for
cameras that stamp with the same clock (not for bag replay on sim time). The pair age is the
stamp difference within a pair: how old the thermal frame an RGB frame was paired with is.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from rgbt_perception.pipeline import model_seconds

COUNTS = ("rgb", "thermal", "pairs", "processed", "skipped", "bad", "model_errors", "non_finite_outputs",
          "thermal_frozen")
STAGES = ("stamp age at pairing", "hand-off to worker", "decode", "pipeline outside models", "publish")
RATES = ("rgb", "thermal", "pairs", "processed")


class FrameStats:
    def __init__(self, window: int = 200, clock=time.monotonic) -> None:
        """`window`: the frames each median covers; `clock`: seconds, for the rates."""
        self.clock = clock
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(COUNTS, 0)
        self.bad_reasons: dict[str, int] = {}
        self.latencies: deque[float] = deque(maxlen=window)
        self.inference: deque[float] = deque(maxlen=window)
        self.model_times: deque[float] = deque(maxlen=window)
        self.stage_times: dict[str, deque[float]] = {name: deque(maxlen=window) for name in STAGES}
        self.pair_ages: deque[float] = deque(maxlen=window)
        self.uncertainties: list[float] = []  # the frames' combined uncertainty since the last report
        self.reported_uncertainty: tuple[float, int] | None = None  # (median, frames) at the last report
        self._last_counts, self._last_time = dict(self.counts), clock()
        self.previous_counts = dict(self.counts)  # the counts at the report before the last one

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def paired(self, stamp_age: float, pair_age: float = 0.0) -> None:
        """A pair formed; `stamp_age`: wall clock minus its RGB header stamp (s); `pair_age`:
        its RGB stamp minus its thermal stamp (s; how old the thermal frame is, sync.policy latest)."""
        with self.lock:
            self.counts["pairs"] += 1
            self.stage_times["stamp age at pairing"].append(stamp_age)
            self.pair_ages.append(pair_age)

    def bad(self, stream: str) -> None:
        with self.lock:
            self.counts["bad"] += 1
            self.bad_reasons[stream] = self.bad_reasons.get(stream, 0) + 1

    def frame(self, received: float, picked: float, inferred: float, done: float, timings: dict[str, float],
              uncertainty: float = float("nan")) -> None:
        """One processed frame: monotonic times of its hand-over, pick-up by the worker, end of
        inference and end of publishing, the pipeline's own stage timings and the frame's
        combined uncertainty."""
        total = timings.get("total", 0.0)
        model = model_seconds(timings)
        measured_after = timings.get("uncertainty", 0.0)  # pipeline work, done after the masks were published
        with self.lock:
            self.counts["processed"] += 1
            if np.isfinite(uncertainty) and len(self.uncertainties) < 100_000:
                self.uncertainties.append(float(uncertainty))
            self.inference.append(total)
            self.model_times.append(model)
            self.latencies.append(done - received)
            for name, seconds in (("hand-off to worker", picked - received), ("decode", inferred - picked - total),
                                  ("pipeline outside models", total - model + measured_after),
                                  ("publish", done - inferred - measured_after)):
                self.stage_times[name].append(seconds)

    def rates(self) -> dict[str, float]:
        """Messages per second of each stream since the last call."""
        now = self.clock()
        elapsed = max(now - self._last_time, 1e-6)
        rates = {k: (self.counts[k] - self._last_counts[k]) / elapsed for k in RATES}
        with self.lock:
            self.reported_uncertainty = ((float(np.median(self.uncertainties)), len(self.uncertainties))
                                         if self.uncertainties else None)
            self.uncertainties = []
        self.previous_counts = self._last_counts
        self._last_counts, self._last_time = dict(self.counts), now
        return rates

    def values(self, rates: dict[str, float]) -> dict[str, str]:
        values = {f"{k} rate (Hz)": f"{v:.2f}" for k, v in rates.items()}
        values.update({k: str(v) for k, v in self.counts.items()})
        values.update({f"bad {stream}": str(count) for stream, count in self.bad_reasons.items()})
        if self.inference:
            values["inference median (ms)"] = f"{1000 * float(np.median(self.inference)):.1f}"
            values["model median (ms)"] = f"{1000 * float(np.median(self.model_times)):.1f}"
            values["model last frame (ms)"] = f"{1000 * self.model_times[-1]:.1f}"
        values.update({f"{name} median (ms)": f"{1000 * float(np.median(times)):.2f}"
                       for name, times in self.stage_times.items() if times})
        if self.pair_ages:
            ages = 1000 * np.abs(np.asarray(self.pair_ages))
            values["pair age median / p95 / max (ms)"] = (f"{np.median(ages):.1f} / {np.percentile(ages, 95):.1f} / "
                                                         f"{ages.max():.1f}")
        if self.reported_uncertainty is not None:
            median, frames = self.reported_uncertainty
            values["uncertainty median"] = f"{median:.3f}"
            values["uncertainty frames"] = str(frames)
        if self.latencies:
            values["latency median (ms)"] = f"{1000 * float(np.median(self.latencies)):.1f}"
            values["latency p95 (ms)"] = f"{1000 * float(np.percentile(self.latencies, 95)):.1f}"
        return values
