"""The soak's run: the node started, pairs published at the rate with the minute's faults, the
node's answers and reports collected into one record per minute, the control run, and main."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from bench_node import rss_mb
from common import print_table
from node_probe import CameraProbe, node_arguments, stop_text, tear_down

from rgbt_perception.testing.node_fixtures import image_msg
from rgbt_perception.testing.ros_harness import DomainLease, NodeProcess, ros_environment
from soak.faults import Faults, bad_messages, recovery_table
from soak.judge import judge
from soak.machine import CpuShares, MachineReference, reference_ms
from soak.report import STAGES, print_minutes

BENCHMARKS = Path(__file__).resolve().parents[1]


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
    parser = argparse.ArgumentParser(description="the node under 30 Hz RGB-T pairs with faults every minute")
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


def main() -> int:
    args = arguments()
    lease = DomainLease()
    os.environ.update(ros_environment(lease.domain_id))
    import rclpy

    node_args = node_arguments(args.size, "-p", "diagnostics_period:=1.0", "-p", "thermal.timeout:=1.0")
    managed = bool(args.model_error_every or args.lifecycle_every)

    def make_node() -> NodeProcess:
        return (NodeProcess("soak_target", ros_args=node_args, cwd=BENCHMARKS) if managed
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
