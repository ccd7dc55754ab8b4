"""Soak: the node under 30 Hz 640x512 RGB-T for --minutes with faults injected every minute.

Starts the real node (random weights; --size test by default so that each minute holds enough
frames for stable percentiles, --size tiny for the real encoder) and publishes pairs at --rate.
Every minute, at fixed offsets: a 3 s thermal dropout (-> degraded mode), a burst of 40 malformed
messages on both topics (bad encoding, short data, 32FC1 with an odd step), a stamp jump of
10 s backwards (a looping bag: the synchronizer resets), and 2 s of 4K pairs (3840x2160: the
worker stalls on decoding and resizing while the camera keeps coming). With --model-error-every
/ --lifecycle-every (make soak-long) the node is the lifecycle node (soak_target.py) and every N
minutes SAMSOD fails once and the node is deactivated for 3 s and activated again.

Prints per minute: pairs sent, received / processed / skipped / bad (node counters), latency p50 /
p95 (publish -> saliency/map), the node's RSS floor and peak (sampled every second), and where
the time goes: the node's own stage medians from /diagnostics (its last 200 frames: stamp age at
pairing less the soak's own stamp jumps, hand-off, decode, pipeline outside the models, models,
publish, heap trims), the probe's publishing lag behind its schedule, and the CPU the node, the probe, the
rest of the machine and the hypervisor (steal) took, and the machine's speed (a fixed computation
timed in the probe every 10 s; the models' time is correlated with it at the end: r near 1 says the
machine, not the node, moved). Then, per kind of fault, how long the node
took to answer again after it ended (and the evidence that it was handled: degraded mode seen,
the node's counts, no answer while inactive).

Drift is judged by the trend over all minutes, not by two of them: the least-squares slope of the
per-minute p50 and p95 in % of the first minute's fitted value per hour, with its standard error.
On a shared machine (a VM) the host's load moves the latency by tens of % for tens of minutes, so
every --reference-every minutes the node's models are also timed in a fresh process beside it
(soak_reference.py, a few seconds on the other core), and the trends judged are those of the
node's p50 and p95 divided by that fresh time: the node's own drift. The trends as measured and
the fresh process's own trend (the machine's) are printed beside them. It fails when a judged
trend exceeds --max-trend %/h by more than two standard errors, when the RSS floor grows by more
than 50 MB beyond two standard errors (see memory_growth), when a fault is not recovered within
--max-recovery s, or when SIGINT does not stop the node with exit 0. --control-minutes adds, after
the run, a fresh node under the same pairs: the aged node's model time against a fresh node's.
Usage: python benchmarks/soak_node.py [--minutes 10] [--max-trend 20] [--model-error-every N]
[--lifecycle-every N] [--reference-every 2] [--control-minutes N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_node import rss_mb
from common import print_table
from node_probe import CameraProbe, node_arguments, stop_text, tear_down

from rgbt_perception.testing.node_fixtures import image_msg
from rgbt_perception.testing.ros_harness import DomainLease, NodeProcess, ros_environment

STAGES = {"stamp age": "stamp age at pairing median (ms)", "hand-off": "hand-off to worker median (ms)",
          "decode": "decode median (ms)", "outside models": "pipeline outside models median (ms)",
          "models": "model median (ms)", "publish": "publish median (ms)"}


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
    (rgbt_perception/memory.py), so any one floor sits anywhere in a 100 MB band above the level."""
    slope, error, _ = fit(floors[1:])
    minutes = len(floors) - 2
    return slope * minutes, error * minutes


TICKS = os.sysconf("SC_CLK_TCK")


class CpuShares:
    """CPU used per interval, in cores, from /proc: the node's process, this process (the probe),
    the rest of the machine, and steal (time the hypervisor gave to other guests). A latency
    that moves with 'other' or 'steal' is the machine, not the node."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last = self._read()

    def _read(self) -> tuple[float, ...]:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
        process = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = os.times()
        return (time.monotonic(), user + nice + system + irq + softirq, steal,
                int(process[11]) + int(process[12]), (own.user + own.system) * TICKS)

    def interval(self) -> dict[str, float]:
        """Cores used since the last call: node, probe, other, steal."""
        now, then = self._read(), self.last
        self.last = now
        busy, steal, node, probe = ((a - b) / TICKS / max(now[0] - then[0], 1e-6) for a, b in zip(now[1:], then[1:]))
        return {"node": node, "probe": probe, "other": max(busy - node - probe, 0.0), "steal": steal}


REFERENCE = np.random.default_rng(0).random(300_000)


def reference_ms() -> float:
    """The machine's speed, as the time of one fixed single-threaded computation in the probe."""
    start = time.perf_counter()
    np.sort(REFERENCE, kind="quicksort")
    return 1000 * (time.perf_counter() - start)


class MachineReference:
    """The node's models timed in a fresh process (benchmarks/soak_reference.py), started in the
    background while the soak runs; `poll()` collects each result into the minute it started in."""

    def __init__(self, size: str) -> None:
        self.size = size
        self.process: subprocess.Popen | None = None
        self.minute = -1
        self.results: dict[int, float] = {}  # minute -> fresh models' median (ms)
        self.failures: list[str] = []

    def start(self, minute: int) -> None:
        if self.process is not None:  # the last one is still running: skip this minute
            return
        self.minute = minute
        self.process = subprocess.Popen([sys.executable, "soak_reference.py", "--size", self.size],
                                        cwd=Path(__file__).parent, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)

    def poll(self) -> None:
        if self.process is None or self.process.poll() is None:
            return
        out, err = self.process.communicate()
        try:
            self.results[self.minute] = float(json.loads(out.strip().splitlines()[-1])["models_ms"])
        except (ValueError, IndexError, KeyError):
            self.failures.append(f"minute {self.minute + 1}: exit {self.process.returncode}: {err.strip()[-300:]}")
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.communicate()
            self.process = None


def own_stage(minute: dict, name: str) -> float:
    """A stage median of a minute's record; the stamp age less the soak's own 10 s stamp jumps so far."""
    return minute["stages"][name] - (10_000.0 * minute["jumps"] if name == "stamp age" else 0.0)


def bad_messages(count: int) -> list[tuple[int, object]]:
    """(stream, message) pairs of malformed images of several kinds."""
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            msg = image_msg(np.zeros((8, 8, 3), np.uint8), "yuv422", 0, 0)
        elif kind == 1:
            msg = image_msg(np.zeros((64, 64), np.uint16), "mono16", 0, 0)
            msg.data = msg.data[:100]
        else:
            msg = image_msg(np.zeros((64, 64), np.float32), "32FC1", 0, 0)
            msg.step, msg.data = 257, np.zeros(257 * 64 + 1, np.uint8).tobytes()
        out.append((i % 2, msg))
    return out


class Faults:
    """The soak's fault schedule within each minute (seconds), and the record of what was injected
    and when it ended (monotonic), from which recovery is judged at the end."""

    DROPOUT = (10, 13)  # thermal silent -> degraded mode, back to full mode after
    BURST = 20  # 40 malformed messages
    JUMP = 30  # stamps 10 s back
    BIG = (45, 47)  # 4K pairs
    MODEL_ERROR = 52  # SAMSOD raises once (soak_target's service), in the minutes chosen by --model-error-every
    LIFECYCLE = (54, 57)  # deactivate, activate (lifecycle services), in the minutes chosen by --lifecycle-every
    MACHINE = 1  # not a fault: the fresh-process reference starts (soak_reference.py), every --reference-every min

    def __init__(self) -> None:
        self.events: list[dict] = []  # kind, minute, start, end
        self.done: set[tuple[str, int]] = set()  # (fault, minute) injected

    def due(self, kind: str, minute: int, second: float, at: float, every: int = 1) -> bool:
        """Whether `kind` is to be injected now: at or after second `at` of the minute, once, in
        every `every`-th minute, from the middle of the first such span (minutes counted from 0: every
        10 is minutes 5, 15, ...; 0: never)."""
        if every and minute % every == every // 2 and second >= at and (kind, minute) not in self.done:
            self.done.add((kind, minute))
            return True
        return False

    def begin(self, kind: str, minute: int, now: float) -> dict:
        event = {"kind": kind, "minute": minute, "start": now, "end": now}
        self.events.append(event)
        return event


def recovery_table(faults: Faults, latencies: list[tuple[float, float]], diagnostics: list[tuple[float, bool]],
                   final: dict, limit: float) -> tuple[list[list], list[str]]:
    """Per kind of fault: how many, how many recovered within `limit` s, median and worst time to
    recover, and what shows it. Recovered: a saliency answer came for a pair published after the
    fault ended (thermal dropout: also /diagnostics no longer degraded; model error: also counted
    by the node; lifecycle: also no answer to the pairs published while inactive)."""
    answers = np.array([(arrival, arrival - latency) for arrival, latency in latencies if np.isfinite(latency)])
    answers = answers[np.argsort(answers[:, 1])] if len(answers) else np.zeros((0, 2))

    def first_answer_after(t: float) -> float:
        later = answers[answers[:, 1] >= t, 0]
        return float(later.min()) if later.size else float("inf")

    def full_mode_after(t: float) -> float:
        return next((arrival for arrival, degraded in diagnostics if arrival >= t and not degraded), float("inf"))

    rows, missed = [], []
    for kind in dict.fromkeys(event["kind"] for event in faults.events):
        events = [e for e in faults.events if e["kind"] == kind]
        times, evidence = [], ""
        for event in events:
            back = first_answer_after(event["end"])
            if kind == "thermal dropout":
                back = max(back, full_mode_after(event["end"]))
            times.append(back - event["end"])
        if kind == "thermal dropout":
            seen = sum(e.get("degraded_seen", False) for e in events)
            evidence = f"degraded seen in {seen}/{len(events)}"
            if seen < len(events):
                missed.append(f"degraded mode not reported in {len(events) - seen} thermal dropouts")
        elif kind == "malformed burst":  # best effort, depth 5: the node sees only some of each burst
            evidence = f"node counted {final.get('bad', '?')} bad messages of {40 * len(events)} sent"
            if int(final.get("bad", 0)) == 0:
                missed.append("the node counted no bad message")
        elif kind == "model error":
            evidence = f"node counted {final.get('model_errors', '?')} model errors of {len(events)} injected"
            if int(final.get("model_errors", -1)) != len(events):
                missed.append(f"{final.get('model_errors')} model errors counted, {len(events)} injected")
        elif kind == "lifecycle deactivate/activate":
            sent = answers[:, 1]  # a pair in flight when the deactivation came may still be answered: 0.5 s
            while_inactive = sum(int(((sent > e["start"] + 0.5) & (sent < e.get("inactive_until", e["start"]))).sum())
                                 for e in events)
            evidence = f"{while_inactive} answers to pairs sent while inactive"
            if while_inactive:
                missed.append(f"the node answered {while_inactive} pairs while inactive")
        recovered = sum(t <= limit for t in times)
        if recovered < len(events):
            missed.append(f"{kind}: {len(events) - recovered} of {len(events)} not recovered within {limit:g} s")
        finite = [t for t in times if np.isfinite(t)]
        rows.append([kind, len(events), recovered, f"{np.median(finite):.2f}" if finite else "-",
                     f"{max(times):.2f}" if times else "-", evidence])
    return rows, missed


def fresh_node_control(make_node, probe, frames, minutes: float, rate: float) -> list[dict]:
    """The control for an aged node: a fresh node process on the same machine, right after, under
    the same 30 Hz pairs (no faults) for `minutes`; per minute its model median from /diagnostics
    and the machine's reference time. Models as slow in a fresh process as in the aged one mean
    the machine slowed, not the node."""
    node = make_node()
    rows: list[dict] = []
    try:
        node.wait_for_log("rgbt_perception ready", timeout=300)
        probe.diagnostics.clear()
        probe.diagnostic_arrivals.clear()
        count, start = 0, time.monotonic()
        references: list[float] = []
        while len(rows) < minutes:
            rgb, thermal = frames[count % len(frames)]
            probe.publish_pair(rgb, thermal)
            if count % int(10 * rate) == 5:
                references.append(reference_ms())
            count += 1
            target = start + count / rate
            while time.monotonic() < target:
                probe.executor.spin_once(timeout_sec=max(0.0, target - time.monotonic()))
            if time.monotonic() - start >= 60 * (len(rows) + 1):
                rows.append({"models": float(probe.status().get("model median (ms)", "nan")),
                             "reference": float(np.median(references)) if references else float("nan")})
                references.clear()
        stop_text(node, timeout=30)
    finally:
        node.kill()
    return rows


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--size", default="test", help="model size (test: micro backbone; tiny)")
    parser.add_argument("--max-trend", type=float, default=20.0,
                        help="largest latency trend accepted, %% per hour (beyond two standard errors)")
    parser.add_argument("--model-error-every", type=int, default=0,
                        help="inject one model error every N minutes (0: none; runs the lifecycle node)")
    parser.add_argument("--lifecycle-every", type=int, default=0,
                        help="deactivate and re-activate the node every N minutes (0: never; the lifecycle node)")
    parser.add_argument("--max-recovery", type=float, default=10.0, help="s within which every fault must be recovered")
    parser.add_argument("--reference-every", type=int, default=2,
                        help="time the node's models in a fresh process every N minutes (0: never); the "
                             "latency trends are judged relative to it")
    parser.add_argument("--control-minutes", type=float, default=0,
                        help="then run a fresh node for N minutes as the control for the aged one (0: none)")
    return parser.parse_args()


class Soak:
    """One soak run: the pairs at --rate with the minute's faults, the node's answers and reports
    collected, one record per minute (`minutes`)."""

    def __init__(self, args: argparse.Namespace, node, probe) -> None:
        from lifecycle_msgs.srv import ChangeState
        from std_srvs.srv import Trigger

        from rgbt_models.data.synthetic import make_scene

        self.args, self.node, self.probe = args, node, probe
        self.change_state = probe.node.create_client(ChangeState, "/rgbt_perception/change_state")
        self.inject = probe.node.create_client(Trigger, "/rgbt_perception/inject_model_error")
        self.calls: list = []  # service futures still to be checked
        scenes = [make_scene(i, 512, 640) for i in range(8)]
        self.frames = [(image_msg(s.rgb, "rgb8", 0, 0), image_msg(s.thermal_raw, "mono16", 0, 0)) for s in scenes]
        big = make_scene(99, 2160, 3840)
        self.big_frame = (image_msg(big.rgb, "rgb8", 0, 0), image_msg(big.thermal_raw, "mono16", 0, 0))
        self.malformed = bad_messages(40)
        self.minutes: list[dict] = []
        self.faults = Faults()
        self.machine = MachineReference(args.size)
        self.diagnostics: list[tuple[float, bool]] = []  # (arrival, degraded) of every /diagnostics report
        self.dropout = self.big = self.lifecycle = None  # the fault events under way
        self.seen, self.status = 0, {}  # /diagnostics reports read; the newest
        self.counters_before: dict[str, int] = {}
        self.lags: list[float] = []
        self.rss: list[float] = []  # the node's resident size, sampled once a second
        self.references: list[float] = []  # reference_ms() every 10 s

    def run(self) -> None:
        """Publish until --minutes minutes are recorded (or half a minute past them)."""
        executor, rate = self.probe.executor, self.args.rate
        self.start = time.monotonic()
        self.cpu = CpuShares(self.node.process.pid)
        self.stamp_base = time.time_ns()
        self.count, self.minute_start, self.minute_sent, self.degraded_seen = 0, self.start, 0, False
        while len(self.minutes) < self.args.minutes and time.monotonic() - self.start < self.args.minutes * 60 + 30:
            self.publish(time.monotonic())
            self.count += 1
            self.minute_sent += 1
            target = self.start + self.count / rate
            executor.spin_once(timeout_sec=0.0)
            while time.monotonic() < target:
                executor.spin_once(timeout_sec=max(0.0, target - time.monotonic()))
            if time.monotonic() - self.minute_start >= 60:
                self.close_minute()

    def publish(self, now: float) -> None:
        """One pair (or none of the thermal in a dropout), with the faults due now."""
        minute, second = int((now - self.start) // 60), (now - self.start) % 60
        if self.faults.due("jump", minute, second, Faults.JUMP):
            self.stamp_base -= 10 * 10**9  # a looping bag: stamps jump 10 s back
            self.faults.begin("stamp jump", minute, now)
        in_dropout = Faults.DROPOUT[0] <= second < Faults.DROPOUT[1]
        self.dropout = self.span("thermal dropout", self.dropout, in_dropout, minute, now)
        big_now = Faults.BIG[0] <= second < Faults.BIG[1]
        self.big = self.span("4K pairs", self.big, big_now, minute, now)
        if self.count % int(self.args.rate) == 0 and now - self.start > 10:  # after the first frames' working set
            self.rss.append(rss_mb(self.node.process.pid))
        if self.count % int(10 * self.args.rate) == 5:
            self.references.append(reference_ms())
        self.lags.append(now - (self.start + self.count / self.args.rate))  # how late the probe publishes this pair
        rgb, thermal = self.big_frame if big_now else self.frames[self.count % len(self.frames)]
        self.probe.publish_pair(rgb, thermal, self.stamp_base + int((now - self.start) * 1e9),
                                with_thermal=not in_dropout)
        if self.faults.due("machine", minute, second, Faults.MACHINE, self.args.reference_every):
            self.machine.start(minute)
        self.machine.poll()
        self.inject_faults(minute, second, now)
        self.answer_calls(now)
        self.read_diagnostics()

    def span(self, kind: str, event: dict | None, active: bool, minute: int, now: float) -> dict | None:
        """A fault that lasts (dropout, 4K pairs): begun when it becomes active, ended when not."""
        if active and event is None:
            return self.faults.begin(kind, minute, now)
        if not active and event is not None:
            event["end"] = now
            return None
        return event

    def inject_faults(self, minute: int, second: float, now: float) -> None:
        """The malformed burst, and the model error and lifecycle calls in the minutes they are due."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        from std_srvs.srv import Trigger

        if self.faults.due("burst", minute, second, Faults.BURST):
            self.faults.begin("malformed burst", minute, now)
            for stream, msg in self.malformed:
                (self.probe.rgb_pub if stream == 0 else self.probe.thermal_pub).publish(msg)
        if self.faults.due("model error", minute, second, Faults.MODEL_ERROR, self.args.model_error_every):
            self.faults.begin("model error", minute, now)
            self.calls.append(("inject", self.inject.call_async(Trigger.Request())))
        if self.faults.due("deactivate", minute, second, Faults.LIFECYCLE[0], self.args.lifecycle_every):
            self.lifecycle = self.faults.begin("lifecycle deactivate/activate", minute, now)
            self.calls.append(("deactivate", self.change_state.call_async(
                ChangeState.Request(transition=Transition(id=Transition.TRANSITION_DEACTIVATE)))))
        if self.lifecycle is not None and second >= Faults.LIFECYCLE[1]:
            self.lifecycle["inactive_until"] = now
            self.calls.append(("activate", self.change_state.call_async(
                ChangeState.Request(transition=Transition(id=Transition.TRANSITION_ACTIVATE)))))
            self.lifecycle = None

    def answer_calls(self, now: float) -> None:
        """Service calls that came back: a failure is printed; an activation ends its fault."""
        for name, future in [c for c in self.calls if c[1].done()]:
            self.calls.remove((name, future))
            if not (future.result() and future.result().success):
                print(f"soak: the {name} service call failed: {future.result()}", flush=True)
            if name == "activate":  # recovery counts from the activation's answer
                next(e for e in reversed(self.faults.events) if e["kind"].startswith("lifecycle"))["end"] = now

    def read_diagnostics(self) -> None:
        """New /diagnostics reports: each one's degraded flag by arrival, the newest in full."""
        probe = self.probe
        if len(probe.diagnostics) > self.seen:
            self.diagnostics += [(arrival, any(kv.key == "degraded" and kv.value == "True"
                                               for kv in msg.status[0].values))
                                 for arrival, msg in zip(probe.diagnostic_arrivals[self.seen:],
                                                         probe.diagnostics[self.seen:])]
            self.seen, self.status = len(probe.diagnostics), probe.status()
        if self.status.get("message", "").startswith("DEGRADED"):
            self.degraded_seen = True
            if self.faults.events and self.faults.events[-1]["kind"] == "thermal dropout":
                self.faults.events[-1]["degraded_seen"] = True

    def close_minute(self) -> None:
        """The minute's record (counts, latencies, memory, stages, CPU, references), printed."""
        status = self.status
        values = {k: int(status.get(k, 0)) for k in ("pairs", "processed", "skipped", "bad", "rgb")}
        lat = np.array([v for t, v in self.probe.latencies if t >= self.minute_start and np.isfinite(v)])
        self.minutes.append({
            "sent": self.minute_sent, **{k: values[k] - self.counters_before.get(k, 0) for k in values},
            "p50": float(np.median(lat)) if lat.size else float("nan"),
            "p95": float(np.percentile(lat, 95)) if lat.size else float("nan"),
            "rss floor": min(self.rss), "rss peak": max(self.rss), "degraded": self.degraded_seen,
            "jumps": sum(e["kind"] == "stamp jump" for e in self.faults.events),
            "stages": {name: float(status.get(key, "nan")) for name, key in STAGES.items()},
            "lag": 1000 * float(np.median(self.lags)) if self.lags else float("nan"),
            "cpu": self.cpu.interval(), "heap trims": int(status.get("heap trims", 0)),
            "reference": float(np.median(self.references)) if self.references else float("nan")})
        last = self.minutes[-1]
        print(f"minute {len(self.minutes)}: processed {last['processed']}, p50 {1000 * last['p50']:.0f} ms, p95 "
              f"{1000 * last['p95']:.0f} ms, models {last['stages']['models']:.0f} ms, RSS floor "
              f"{last['rss floor']:.0f} MB", flush=True)  # progress, for the hour-long run
        self.lags.clear()
        self.rss.clear()
        self.references.clear()
        self.counters_before = dict(values)
        self.minute_start, self.minute_sent, self.degraded_seen = time.monotonic(), 0, False
        self.probe.sent = {k: v for k, v in self.probe.sent.items() if v > time.monotonic() - 30}
        del self.probe.diagnostics[:-1], self.probe.diagnostic_arrivals[:-1]
        self.seen = len(self.probe.diagnostics)

    def settle(self) -> dict:
        """The node's last counts, a few seconds after the last fault."""
        settle = time.monotonic() + 3
        while time.monotonic() < settle:
            self.probe.executor.spin_once(timeout_sec=0.1)
        return self.probe.status()

    def last_reference(self) -> None:
        """The fresh-process reference still running, if one is: waited for (at most a minute)."""
        deadline = time.monotonic() + 60
        while self.machine.process is not None and time.monotonic() < deadline:
            time.sleep(0.1)
            self.machine.poll()


def print_minutes(args: argparse.Namespace, minutes: list[dict], machine: MachineReference) -> None:
    """The per-minute tables: counts and latencies; where the time goes."""
    faults_text = "thermal dropout, 40 bad messages, stamp jump, 2 s of 4K pairs"
    if args.model_error_every:
        faults_text += f"; a model error every {args.model_error_every} min"
    if args.lifecycle_every:
        faults_text += f"; lifecycle deactivate/activate every {args.lifecycle_every} min"
    print(f"soak: {args.size} SARTM + SAMSOD, 640x512 pairs at {args.rate:.0f} Hz for {args.minutes:g} min, "
          f"faults every minute ({faults_text})")
    print_table(["minute", "sent", "received pairs", "processed", "skipped", "bad", "p50 (ms)", "p95 (ms)",
                 "RSS floor / peak (MB)", "degraded seen"],
                [[i + 1, m["sent"], m["pairs"], m["processed"], m["skipped"], m["bad"], f"{1000 * m['p50']:.0f}",
                  f"{1000 * m['p95']:.0f}", f"{m['rss floor']:.0f} / {m['rss peak']:.0f}", m["degraded"]]
                 for i, m in enumerate(minutes)])
    print("\nwhere the time goes, per minute (the node's stage medians over its last 200 frames, ms; the "
          "probe's publishing lag behind its schedule, ms; CPU used, cores: the node, the probe, the rest of "
          "the machine, steal; the machine's speed: a fixed computation's median time in the probe, ms, and the "
          "node's models timed in a fresh process, ms)")
    print_table(["minute", *STAGES, "heap trims", "probe lag",
                 *(f"CPU {name}" for name in ("node", "probe", "other", "steal")), "reference (ms)",
                 "fresh models (ms)"],
                [[i + 1, *(f"{own_stage(m, name):.1f}" for name in STAGES),
                  m["heap trims"] - (minutes[i - 1]["heap trims"] if i else 0), f"{m['lag']:.1f}",
                  *(f"{value:.2f}" for value in m["cpu"].values()), f"{m['reference']:.1f}",
                  f"{machine.results[i]:.0f}" if i in machine.results else "-"]
                 for i, m in enumerate(minutes)])


def print_control(minutes: list[dict], control: list[dict]) -> None:
    """The aged node's model time against a fresh node's right after (--control-minutes)."""
    tail = minutes[-len(control):]
    aged = float(np.median([m["stages"]["models"] for m in tail]))
    fresh = float(np.median([m["models"] for m in control]))
    aged_ref, fresh_ref = (float(np.median([m["reference"] for m in rows])) for rows in (tail, control))
    print(f"control: models {aged:.0f} ms in the aged node (its last {len(control)} minutes, reference "
          f"{aged_ref:.1f} ms), {fresh:.0f} ms in a fresh node right after (reference {fresh_ref:.1f} ms): "
          f"aged against fresh {100 * (aged / fresh - 1):+.0f} %")


def judged_trends(minutes: list[dict], machine: MachineReference, trends: dict) -> tuple[dict, str]:
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


def judge(args: argparse.Namespace, minutes: list[dict], machine: MachineReference, control: list[dict],
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


def main() -> int:
    args = arguments()
    lease = DomainLease()
    os.environ.update(ros_environment(lease.domain_id))
    import rclpy

    node_args = node_arguments(args.size, "-p", "diagnostics_period:=1.0", "-p", "thermal.timeout:=1.0")
    managed = bool(args.model_error_every or args.lifecycle_every)

    def make_node() -> NodeProcess:
        return (NodeProcess("soak_target", ros_args=node_args, cwd=Path(__file__).parent) if managed
                else NodeProcess("rgbt_perception.node", ros_args=node_args))

    node = make_node()
    rclpy.init(domain_id=lease.domain_id)
    probe = CameraProbe("soak_probe")
    soak = Soak(args, node, probe)
    stopped, final, control = "not stopped", {}, []
    try:
        node.wait_for_log("rgbt_perception ready", timeout=300)
        deadline = time.monotonic() + 60
        while probe.rgb_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            probe.executor.spin_once(timeout_sec=0.1)
        soak.run()
        final = soak.settle()
        stopped = stop_text(node, timeout=30)
        soak.last_reference()
        if args.control_minutes:
            control = fresh_node_control(make_node, probe, soak.frames, args.control_minutes, args.rate)
    finally:
        soak.machine.stop()
        tear_down(node, probe, lease)
    print_minutes(args, soak.minutes, soak.machine)
    rows, missed = recovery_table(soak.faults, probe.latencies, soak.diagnostics, final, args.max_recovery)
    print(f"\nfault recovery (time from the fault's end to the node answering again, s; limit {args.max_recovery:g} s)")
    print_table(["fault", "injected", "recovered", "median (s)", "worst (s)", "evidence"], rows)
    print(f"SIGINT to exit: {stopped}")
    if not stopped.endswith("exit 0"):
        missed.append(f"SIGINT: {stopped}")
    if len(soak.minutes) < 3:
        print("soak: too short for a trend (3 minutes at least)")
        return 1
    return judge(args, soak.minutes, soak.machine, control, missed)


if __name__ == "__main__":
    sys.exit(main())
